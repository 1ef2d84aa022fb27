-- Salesforce outbound messages with a fresh notification Id per request, so every one
-- is durably stored (a repeated Id would take the idempotent fast path instead).
local counter = 0
local template = [[<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>00D000000000062EAA</OrganizationId><ActionId>04k000000000001AAA</ActionId><SessionId xsi:nil="true"/><EnterpriseUrl>https://example.my.salesforce.com/services/Soap/c/60.0</EnterpriseUrl><PartnerUrl>https://example.my.salesforce.com/services/Soap/u/60.0</PartnerUrl><Notification><Id>%s</Id><sObject xsi:type="sf:Account" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>001000000000001AAA</sf:Id><sf:Name>Edge Communications</sf:Name><sf:Phone>(512) 757-6000</sf:Phone></sObject></Notification></notifications></soapenv:Body></soapenv:Envelope>]]

function setup(thread)
  thread:set("prefix", string.format("%02d", math.random(0, 99)))
end

request = function()
  counter = counter + 1
  local id = string.format("04l%s%013d", prefix, counter)
  return wrk.format("POST", nil, {["Content-Type"] = "text/xml; charset=utf-8", ["SOAPAction"] = '""'}, string.format(template, id))
end
