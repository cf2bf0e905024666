"""HTTP response bodies declared once for the service that serves them and the gateway that relays them.

Each owner's ``schemas.py`` documents its own routes with these models; the gateway's OpenAPI
document names the same ones for the routes that relay the owner's answer unread.
"""
