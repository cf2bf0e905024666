"""snapfix: the operator's command line. It speaks to the same stores and topics as the services, with the
same ``SNAPFIX_*`` settings (``snapfix --help``)."""
