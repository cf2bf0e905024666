"""`make demo`'s parts; ``deploy/local/demo.py`` is their command line.

``data`` holds the city (its catalogue, words, the lifecycle's paths), ``plan`` draws the whole demo
from a seed, ``photos`` draws its pictures, ``api`` is the gateway as many paced accounts, ``run`` is
what a run is given and what it reports, and ``seeding`` reads what exists and sends what is missing.
"""
