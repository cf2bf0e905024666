"""The demo city: its catalogue of categories, the words of its reports and comments, the paths to each status."""

from __future__ import annotations

from pathlib import Path
from typing import Any

WARDS_FILE = Path(__file__).resolve().parents[1] / "demo_bengaluru_wards.csv"  # beside demo.py


# west, south, east, north: every demo report lies inside (tests check it).
BBOX = (77.40, 12.80, 77.85, 13.20)
DOMAIN = "demo.snapfix.example"
ADMIN_EMAIL = "admin@snapfix.example"  # what deploy/local/stack.py gives `make run`
KEY_PREFIX = "snapfix-demo"
# How long a command usually takes to be applied after its 202 on a busy machine: the next command
# about the same issue waits that long first (else it is refused for now: 404 or 409, and retried).
APPLY_S = 5.0

# The city's catalogue. A code the catalogue has already is used as it is (an administrator's
# edits are never overwritten); the others are created (PUT /v1/categories/{code}).
CATEGORIES: list[dict[str, Any]] = [
    {
        "code": "pothole",
        "name": "Pothole",
        "group": "Roads",
        "department": "roads",
        "sla_hours": 72,
        "weight": 22,
        "titles": [
            "Deep pothole on the main road",
            "Potholes after the rain",
            "Crater near the bus stop",
            "Pothole at the junction",
            "Road caved in near the culvert",
        ],
    },
    {
        "code": "garbage",
        "name": "Garbage not collected",
        "group": "Sanitation",
        "department": "sanitation",
        "sla_hours": 48,
        "weight": 20,
        "titles": [
            "Garbage not collected for days",
            "Black spot: garbage dumped on the corner",
            "Overflowing bins near the market",
            "Waste burning on the roadside",
            "Pourakarmika did not come",
        ],
    },
    {
        "code": "streetlight",
        "name": "Streetlight not working",
        "group": "Roads",
        "department": "lighting",
        "sla_hours": 120,
        "weight": 12,
        "titles": [
            "Streetlight off for a week",
            "Whole stretch dark at night",
            "Flickering streetlight",
            "Streetlight pole leaning",
            "Lights on during the day",
        ],
    },
    {
        "code": "blocked_drain",
        "name": "Blocked storm water drain",
        "group": "Drains",
        "department": "storm_drains",
        "sla_hours": 72,
        "weight": 9,
        "titles": [
            "Storm water drain blocked",
            "Drain overflowing onto the road",
            "Silt piled next to the drain",
            "Open drain without slab",
            "Water logging after every rain",
        ],
    },
    {
        "code": "water_leak",
        "name": "Water pipe leak",
        "group": "Water",
        "department": "water",
        "sla_hours": 12,
        "weight": 8,
        "titles": [
            "Drinking water pipe leaking",
            "Water gushing from a valve",
            "Leak wasting water since morning",
            "Burst pipe under the footpath",
        ],
    },
    {
        "code": "sidewalk",
        "name": "Broken footpath",
        "group": "Roads",
        "department": "roads",
        "sla_hours": 240,
        "weight": 7,
        "titles": [
            "Footpath slabs broken",
            "Footpath encroached by shops",
            "Missing slab, open gap in footpath",
            "Footpath dug up and left",
        ],
    },
    {
        "code": "stray_animals",
        "name": "Stray animals",
        "group": "Animals",
        "department": "animal_care",
        "sla_hours": 168,
        "weight": 6,
        "titles": [
            "Pack of stray dogs chasing bikes",
            "Injured stray dog needs help",
            "Cattle on the main road",
            "Stray dogs near the school gate",
        ],
    },
    {
        "code": "sewage_overflow",
        "name": "Sewage overflow",
        "group": "Water",
        "department": "water",
        "sla_hours": 24,
        "weight": 5,
        "titles": [
            "Manhole overflowing",
            "Sewage on the road",
            "Sewage mixing with drinking water line",
            "Bad smell from open manhole",
        ],
    },
    {
        "code": "tree",
        "name": "Fallen or dangerous tree",
        "group": "Parks",
        "department": "parks",
        "sla_hours": 168,
        "weight": 5,
        "titles": [
            "Tree fell after the storm",
            "Dangerous branch over the road",
            "Tree blocking the footpath",
            "Dry tree may fall",
        ],
    },
    {
        "code": "mosquito_breeding",
        "name": "Stagnant water and mosquitoes",
        "group": "Health",
        "department": "health",
        "sla_hours": 96,
        "weight": 4,
        "titles": [
            "Stagnant water in the vacant plot",
            "Mosquito breeding in open tank",
            "Dengue cases, fogging needed",
        ],
    },
    {
        "code": "traffic_signal",
        "name": "Traffic signal",
        "group": "Roads",
        "department": "traffic",
        "sla_hours": 24,
        "weight": 2,
        "titles": ["Signal not working at the junction", "Signal stuck on red", "Pedestrian signal broken"],
    },
]
DESCRIPTIONS = [
    "Reported by residents of the area several times.",
    "Two-wheelers are skidding here, especially at night.",
    "Children walk this way to school every day.",
    "It has been like this for more than a week.",
    "Please attend to this before the monsoon gets worse.",
    "Senior citizens find it very difficult to pass.",
    "Near the temple, very busy in the evening.",
    "",
]
STREETS = [
    "1st Main",
    "2nd Cross",
    "4th Block",
    "80 Feet Road",
    "100 Feet Road",
    "Main Road",
    "5th Cross",
    "Service Road",
    "12th Main",
    "Outer Ring Road",
    "near the bus stop",
    "opposite the park",
]
CITIZEN_COMMENTS = [
    "Same problem near my house too.",
    "Still not fixed as of today.",
    "Thank you for looking into this!",
    "This is dangerous, please prioritise.",
    "Saw a crew here yesterday, but nothing changed.",
    "Happening again after the rain.",
    "Residents' association has also written about this.",
    "Fixed now, thanks to the team.",
    "My scooter almost slipped here this morning.",
]
STAFF_COMMENTS = [
    "Crew has been informed; inspection this week.",
    "Work order raised with the contractor.",
    "Awaiting material from the stores.",
    "Site inspected, work scheduled.",
]
NOTES = {
    "acknowledged": ["Forwarded to the ward engineer.", "Noted; inspection scheduled.", ""],
    "in_progress": ["Crew on site.", "Work started.", "Contractor assigned."],
    "resolved": ["Repaired.", "Cleared by the crew.", "Fixed; please reopen if it recurs."],
    "closed": ["Verified on site.", "Closed after verification.", ""],
}
REJECT_REASONS = [
    "Private property: not maintained by the city.",
    "Duplicate of an earlier complaint in the same spot.",
    "Under the metro works' contractor (BMRCL), forwarded to them.",
    "Could not locate the problem at this place.",
]
# The paths to each final status, one staff transition per step (open -> path[0] -> path[1] ...),
# as the lifecycle allows them; one is picked per report.
PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "open": ((),),
    "acknowledged": (("acknowledged",),),
    "in_progress": (("in_progress",), ("acknowledged", "in_progress")),
    "resolved": (("resolved",), ("in_progress", "resolved")),
    "closed": (("resolved", "closed"),),
    "rejected": (("rejected",),),
}


class DemoError(RuntimeError):
    """The demo cannot go on; the message says why."""
