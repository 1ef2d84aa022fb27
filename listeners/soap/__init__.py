"""SOAP listeners: envelopes and faults, WSDL contracts, endpoints and the trigger."""
