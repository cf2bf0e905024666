"""Open311 GeoReport v2 on the gateway (``/open311/v2/``) and the integrators' API keys."""
