"""Outbound connectors (HTTP, SOAP, FTP/SFTP, SQL, files) arrive in later issues."""
