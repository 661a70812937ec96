"""Registers the way Sugar does (jarabe/desktop/schoolserver.py): Python's own xmlrpc.client against the server
root, then reads success/error and the jabberserver and backupurl strings. Prints the reply as JSON.
Usage: python3 sugar_register.py <base URL> <serial> <nick> <uuid> <pubkey without ssh-dss prefix>
"""
import json
import sys
import xmlrpc.client

url, sn, nick, uuid_, pubkey = sys.argv[1:6]
server = xmlrpc.client.ServerProxy(url.rstrip("/") + "/")
data = server.register(sn, nick, uuid_, pubkey)
if data["success"] != "OK":
    print(json.dumps({"error": data["error"]}))
    sys.exit(1)
# Sugar stores these with Gio.Settings.set_string, which takes only strings.
assert isinstance(data["jabberserver"], str) and isinstance(data["backupurl"], str)
# Also over /RPC2, and a fault must surface as xmlrpc.client.Fault with an int code (HTTP 200, not ProtocolError).
rpc2 = xmlrpc.client.ServerProxy(url.rstrip("/") + "/RPC2")
try:
    rpc2.register(sn)
    fault = None
except xmlrpc.client.Fault as f:
    fault = {"faultCode": f.faultCode, "faultString": f.faultString}
print(json.dumps({"reply": data, "fault": fault}))
