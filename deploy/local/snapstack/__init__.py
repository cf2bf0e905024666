"""The local stack's parts, one module a component; ``deploy/local/stack.py`` is their command line.

``layout`` (a profile's folder, ports and settings) and ``processes`` (start, stop, wait) are what
the components share: ``kafka``, ``ferretdb`` with ``postgresql``, ``redis``, ``s3``, ``apps`` and
``edge``. ``verbs`` brings a whole profile up, down, or reports it.
"""
