"""Generate tinyseek's synthetic sample catalog, queries and relevance labels.

Everything here is invented by this script: product types, brands, titles, descriptions,
prices and ratings come from seeded random choices over hand-written templates, and the
relevance labels come from rules over each product's ground truth (its product type, brand
and chosen attributes), never from a search engine.

Usage:
    python sample_data/generate.py [--out DIR]

Writes ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/test.tsv`` into DIR (default: the
folder holding this script). Uses only the standard library; the output is byte-identical
on every run.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

SEED = 20240611
FIRST_ID = 101

# --------------------------------------------------------------------------------------
# Brands. Several per department; some (Thermora, Torvik, Halbrook, Kelvale, Marlowe
# Living, Nordhaven, Ashgrove Home, Northloom, Softweave, Aquaforge, Trailkin) span
# departments. Brands that sell model-numbered goods have a model-number prefix.
# --------------------------------------------------------------------------------------

MODEL_PREFIX = {
    "Torvik": "TK",
    "Halbrook": "HB",
    "Kestrel Works": "KW",
    "Vantor": "VT",
    "Frostvale": "FV",
    "Kelvale": "KL",
    "Aurelle": "AU",
    "Brennick": "BR",
    "Pixelon": "PX",
    "Auralis": "AL",
    "Quorra": "QR",
    "Veltra": "VL",
    "Emberline": "EM",
    "Greenmere": "GM",
    "Fernbrook": "FB",
    "Aquaforge": "AQ",
    "Pipewell": "PW",
    "Deskwright": "DW",
    "Ergoline": "EG",
}

FURN = ["Ashgrove Home", "Corliss & Pine", "Marlowe Living", "Nordhaven", "Birchford"]
LIGHT = ["Lumenfield", "Halden Lighting", "Glowmere", "Marlowe Living", "Nordhaven"]
DECOR = ["Loomcraft", "Marlowe Living", "Ashgrove Home", "Northloom"]
RUGS = ["Loomcraft", "Ashgrove Home", "Northloom"]
KITCH = ["Copperleaf", "Hearth & Grain", "Kitchora"]
DRINK = ["Thermora", "Trailkin", "Kitchora", "Copperleaf"]
MAJOR = ["Frostvale", "Kelvale", "Aurelle", "Brennick"]
SMALL = ["Kelvale", "Aurelle", "Kitchora", "Hearth & Grain"]
POWER = ["Torvik", "Halbrook", "Kestrel Works", "Vantor"]
HAND = ["Halbrook", "Kestrel Works", "Vantor", "Torvik"]
PLUMB = ["Pipewell", "Aquaforge", "Halbrook"]
ELEC = ["Pixelon", "Auralis", "Kelvale", "Quorra", "Veltra"]
AUDIO = ["Auralis", "Veltra", "Quorra"]
OUTPOW = ["Torvik", "Greenmere", "Vantor"]
GRILL = ["Emberline", "Fernbrook", "Greenmere"]
PATIO = ["Fernbrook", "Greenmere", "Ashgrove Home"]
BATHB = ["Aquaforge", "Cloverbay", "Pipewell"]
TEXT = ["Softweave", "Cloverbay", "Northloom"]
BED = ["Softweave", "Slumbra", "Northloom", "Ashgrove Home"]
SPORT = ["Stridemax", "Peakform", "Trailkin"]
FIT = ["Peakform", "Stridemax", "Ironvale Fitness"]
OFFICE = ["Deskwright", "Ergoline", "Nordhaven"]
PAPER = ["Inkwell & Co.", "Deskwright"]

UPH_COLORS = [
    "Charcoal Gray",
    "Navy Blue",
    "Ivory",
    "Sage Green",
    "Terracotta",
    "Oatmeal",
    "Cognac",
    "Mustard Yellow",
    "Light Gray",
    "Slate Blue",
]
WOOD = ["Walnut", "Natural Oak", "Espresso", "White", "Black", "Honey Pine", "Weathered Gray"]
METAL = ["Matte Black", "Brushed Nickel", "Antique Brass", "Polished Chrome", "Satin White"]
TEXTILE_COLORS = [
    "White",
    "Ivory",
    "Light Gray",
    "Charcoal",
    "Navy",
    "Sage",
    "Blush",
    "Dusty Blue",
    "Taupe",
]
BRIGHT = ["Black", "White", "Navy", "Seafoam", "Coral", "Olive", "Lilac", "Stainless", "Red"]
APPL_FINISH = ["Stainless Steel", "Black Stainless Steel", "White", "Slate"]
FIX_FINISH = [
    "Matte Black",
    "Brushed Nickel",
    "Polished Chrome",
    "Brushed Gold",
    "Oil-Rubbed Bronze",
]


def pick(name: str, mapping: dict[str, str], default: str = "") -> Callable[[dict[str, str]], str]:
    """Attribute derived from a slot: the value for the first key found in it."""
    return lambda v: next((out for key, out in mapping.items() if key in v[name]), default)


def lead(name: str, words: int = 1) -> Callable[[dict[str, str]], str]:
    """Attribute derived from a slot: its first word(s) (e.g. "5-Piece", "20V", "21 in.")."""
    return lambda v: " ".join(v[name].split()[:words])


def const(value: str) -> Callable[[dict[str, str]], str]:
    return lambda v: value


def T(
    key: str,
    path: str,
    n: int,
    brands: list[str],
    price: tuple[float, float],
    slots: dict[str, list[Any]],
    titles: list[str],
    text: list[str],
    attrs: dict[str, Any],
    model: bool = False,
) -> dict[str, Any]:
    """One product type: its category, how many to make, and how to word them."""
    return {
        "key": key,
        "path": path,
        "n": n,
        "brands": brands,
        "price": price,
        "slots": slots,
        "titles": titles,
        "text": text,
        "attrs": attrs,
        "model": model,
    }


# Option forms inside ``slots``: "value" | (value, price_factor) |
# (value, price_factor, extra_sentence) | (value, price_factor, extra_sentence, overrides),
# where overrides maps another slot to the options it must be drawn from instead.

TYPES: list[dict[str, Any]] = [
    # ---------------------------------------------------------------- Furniture
    T(
        "sofa",
        "Furniture > Living Room > Sofas",
        18,
        FURN,
        (749, 1099),
        {
            "style": [
                "Mid-Century Modern",
                "Track Arm",
                "Rolled Arm",
                "Tufted",
                "Slipcovered",
                "Camelback",
                "Low-Profile",
            ],
            "kind": [
                ("Sofa", 1.0),
                (
                    "Sleeper Sofa",
                    1.3,
                    "A pull-out queen mattress unfolds from beneath the seat cushions.",
                ),
            ],
            "width": [("72 in.", 0.85), ("78 in.", 0.95), ("84 in.", 1.0), ("90 in.", 1.15)],
            "material": [
                ("Linen Blend", 1.0),
                ("Velvet", 1.1),
                ("Top-Grain Leather", 1.7),
                ("Performance Fabric", 1.05),
                ("Boucle", 1.15),
                ("Chenille", 1.0),
            ],
            "color": UPH_COLORS,
            "legs": ["Tapered Walnut", "Solid Oak", "Matte Black Metal", "Brushed Brass"],
        },
        [
            "{brand} {style} {kind}, {width}, {color} {material}",
            "{style} {width} {material} {kind} in {color}",
            "{kind} with {legs} Legs, {style}, {color} {material}",
        ],
        [
            "Deep seat cushions wrapped in {material_l} invite stretching out after a long day.",
            "A kiln-dried hardwood frame and sinuous springs give this {style_l} design "
            "lasting support.",
            "The {color_l} upholstery resists pilling and spot-cleans with mild soap.",
            "Seats three adults and arrives in two boxes for simple setup.",
            "{legs} legs lift the frame for a lighter look and easy vacuuming underneath.",
            "Reversible seat cushions help the piece wear evenly over time.",
        ],
        {"color": "color", "material": "material", "width": "width"},
    ),
    T(
        "sectional",
        "Furniture > Living Room > Sectionals",
        12,
        FURN,
        (1399, 1899),
        {
            "kind": [
                ("L-Shaped Sectional", 1.0),
                ("Reversible Chaise Sectional", 0.9, "The chaise moves to either side."),
                ("U-Shaped Sectional", 1.35),
                ("Modular Sectional", 1.2, "Add or rearrange modules as your space changes."),
            ],
            "seats": [("4-Seat", 0.9), ("5-Seat", 1.0), ("6-Seat", 1.15)],
            "material": ["Performance Fabric", "Velvet", "Chenille", "Linen Blend", "Corduroy"],
            "color": UPH_COLORS,
        },
        [
            "{brand} {kind}, {seats}, {color} {material}",
            "{seats} {kind} in {color} {material}",
        ],
        [
            "High-resilience foam cushions are wrapped in {material_l} for a soft, supportive sit.",
            "Connector clips keep the sections aligned on hard floors.",
            "Generously deep seats leave plenty of room for family movie nights.",
            "Stain-resistant {color_l} fabric stands up to kids and pets.",
        ],
        {"color": "color", "material": "material", "seating": "seats"},
    ),
    T(
        "loveseat",
        "Furniture > Living Room > Loveseats",
        10,
        FURN,
        (449, 999),
        {
            "kind": [("Loveseat", 1.0), ("Power Reclining Loveseat", 1.5), ("Tufted Settee", 0.9)],
            "width": ["58 in.", "62 in.", "66 in."],
            "material": ["Velvet", "Linen Blend", "Faux Leather", "Performance Fabric"],
            "color": UPH_COLORS,
        },
        ["{brand} {width} {kind}, {color} {material}", "{kind} in {color} {material}, {width}"],
        [
            "A compact two-seat design suited to apartments, dens and sunrooms.",
            "Pocket-coil seat cushions keep their shape season after season.",
            "Covered in {color_l} {material_l} with welted seams.",
        ],
        {"color": "color", "material": "material", "width": "width"},
    ),
    T(
        "accent_chair",
        "Furniture > Living Room > Accent Chairs",
        14,
        FURN,
        (199, 649),
        {
            "kind": [
                "Accent Chair",
                "Swivel Accent Chair",
                "Wingback Chair",
                "Barrel Chair",
                "Slipper Chair",
            ],
            "material": ["Boucle", "Velvet", "Linen Blend", "Faux Leather", "Cotton Twill"],
            "color": UPH_COLORS,
        },
        ["{brand} {kind}, {color} {material}", "{material} {kind} in {color}"],
        [
            "A sculpted back and padded arms make a cozy corner for a book and a cup of tea.",
            "Solid wood legs with floor protectors.",
            "Upholstered in {color_l} {material_l}; arrives fully assembled.",
        ],
        {"color": "color", "material": "material"},
    ),
    T(
        "coffee_table",
        "Furniture > Living Room > Coffee Tables",
        14,
        FURN,
        (199, 399),
        {
            "kind": [
                ("Rectangular Coffee Table", 1.0),
                ("Lift-Top Coffee Table", 1.1, "The top raises to desk height for laptop work."),
                ("Round Coffee Table", 0.9),
                ("Nesting Coffee Tables, Set of 2", 1.0),
            ],
            "material": [
                ("Solid Mango Wood", 1.2),
                ("Reclaimed Pine", 1.0),
                ("Tempered Glass and Steel", 0.8),
                ("White Oak Veneer", 1.0),
                ("Faux Marble", 0.9),
            ],
            "finish": WOOD,
        },
        ["{brand} {kind}, {material}, {finish}", "{material} {kind}"],
        [
            "A lower shelf keeps remotes, magazines and board games tidy.",
            "Sealed against water rings and everyday scuffs.",
            "Clean lines suit modern and farmhouse rooms alike.",
        ],
        {"material": "material", "finish": "finish"},
    ),
    T(
        "end_table",
        "Furniture > Living Room > End Tables",
        10,
        FURN,
        (69, 249),
        {
            "kind": [
                "End Table",
                "Side Table with Drawer",
                "C-Shaped Side Table",
                "Drum Side Table",
            ],
            "material": ["Solid Acacia", "Metal and Glass", "Rattan", "Oak Veneer"],
            "finish": WOOD,
        },
        ["{brand} {kind}, {material}, {finish}", "{material} {kind} in {finish}"],
        [
            "Just the right height for a lamp and a drink next to the sofa.",
            "Small footprint, sturdy build, quick assembly.",
            "The {finish_l} finish pairs with most wood tones.",
        ],
        {"material": "material", "finish": "finish"},
    ),
    T(
        "tv_stand",
        "Furniture > Living Room > TV Stands",
        10,
        FURN,
        (229, 399),
        {
            "kind": ["TV Stand", "Media Console", "Corner TV Stand", "Fluted Media Console"],
            "fits": [
                ("for TVs up to 55 in.", 0.8),
                ("for TVs up to 65 in.", 1.0),
                ("for TVs up to 75 in.", 1.25),
            ],
            "finish": WOOD,
        },
        ["{brand} {kind} {fits}, {finish}", "{finish} {kind} {fits}"],
        [
            "Cable cut-outs route cords to the soundbar and streaming box out of sight.",
            "Adjustable shelves behind slatted doors hide game consoles.",
            "Holds up to 120 lb on the top surface.",
        ],
        {"finish": "finish", "fits": "fits"},
    ),
    T(
        "bookcase",
        "Furniture > Living Room > Bookcases",
        10,
        [*FURN, "Deskwright"],
        (129, 299),
        {
            "kind": [
                "5-Shelf Bookcase",
                "Ladder Bookshelf",
                "Cube Storage Bookcase",
                "Glass-Door Barrister Bookcase",
                "Corner Bookshelf",
            ],
            "height": ["48 in.", "60 in.", "72 in."],
            "finish": WOOD,
        },
        ["{brand} {kind}, {height}, {finish}", "{height} {kind} in {finish}"],
        [
            "Adjustable shelves hold paperbacks, vinyl records and display pieces.",
            "Includes an anti-tip wall anchor kit.",
            "Each shelf supports up to 35 lb.",
        ],
        {"finish": "finish", "height": "height"},
    ),
    T(
        "nightstand",
        "Furniture > Bedroom > Nightstands",
        14,
        FURN,
        (129, 249),
        {
            "kind": [
                "2-Drawer Nightstand",
                (
                    "Nightstand with Charging Station",
                    1.1,
                    "Two USB ports and an outlet are built in.",
                ),
                "Open-Shelf Nightstand",
                "Floating Nightstand",
                "1-Drawer Nightstand",
            ],
            "material": ["Solid Pine", "Rattan and Wood", "Engineered Wood", "Oak Veneer"],
            "finish": WOOD,
        },
        ["{brand} {kind}, {finish}", "{finish} {material} {kind}", "{kind} in {material}"],
        [
            "Keeps glasses, lotion and a paperback within arm's reach.",
            "Sized to sit neatly beside a queen or king bed.",
            "Rounded corners and a low profile suit smaller bedrooms.",
            "The {finish_l} finish is wiped clean with a damp cloth.",
        ],
        {"material": "material", "finish": "finish"},
    ),
    T(
        "dresser",
        "Furniture > Bedroom > Dressers",
        12,
        FURN,
        (499, 799),
        {
            "kind": [
                ("6-Drawer Double Dresser", 1.0),
                ("3-Drawer Dresser", 0.6),
                ("Tall 5-Drawer Dresser", 0.85),
                ("9-Drawer Wide Dresser", 1.3),
            ],
            "material": ["Solid Pine", "Mango Wood", "Engineered Wood", "Oak Veneer"],
            "finish": WOOD,
        },
        ["{brand} {kind}, {finish}", "{kind} in {finish} {material}"],
        [
            "Full-extension metal glides open smoothly even when drawers are full.",
            "Dovetail joinery and English dovetail drawers built to last.",
            "Wide top surface holds a mirror, jewelry tray and lamp.",
            "Anti-tip hardware is included.",
        ],
        {"material": "material", "finish": "finish"},
    ),
    T(
        "bed_frame",
        "Furniture > Bedroom > Beds",
        12,
        FURN,
        (299, 549),
        {
            "kind": [
                ("Upholstered Platform Bed", 1.2),
                ("Metal Platform Bed Frame", 0.5),
                ("Solid Wood Platform Bed", 1.0),
                ("Canopy Bed Frame", 1.1),
                ("Storage Bed with Drawers", 1.4),
            ],
            "size": [("Full", 0.85), ("Queen", 1.0), ("King", 1.2)],
            "color": ["Charcoal Gray", "Natural Oak", "Black", "Ivory", "Walnut"],
        },
        ["{brand} {kind}, {size}, {color}", "{size} {kind} in {color}"],
        [
            "Wood slat support means no box spring is needed.",
            "Center legs add stability and keep the frame quiet.",
            "Fits a standard {size_l} mattress; mattress sold separately.",
        ],
        {"size": "size", "color": "color"},
    ),
    T(
        "dining_table",
        "Furniture > Dining Room > Dining Tables",
        12,
        FURN,
        (449, 749),
        {
            "kind": [
                "Rectangular Dining Table",
                "Round Pedestal Dining Table",
                ("Extendable Dining Table", 1.2, "A butterfly leaf extends the top by 18 in."),
                "Farmhouse Trestle Dining Table",
            ],
            "seats": [("Seats 4", 0.8), ("Seats 6", 1.0), ("Seats 8", 1.3)],
            "material": ["Solid Acacia", "Reclaimed Pine", "Oak Veneer", "Sintered Stone"],
        },
        ["{brand} {kind}, {seats}, {material}", "{material} {kind} ({seats})"],
        [
            "Heat- and moisture-resistant top finish for everyday meals.",
            "Leveling feet steady the table on uneven floors.",
            "Ships flat with all hardware and an Allen key.",
        ],
        {"material": "material", "seating": "seats"},
    ),
    T(
        "dining_chair",
        "Furniture > Dining Room > Dining Chairs",
        10,
        FURN,
        (129, 449),
        {
            "kind": [
                "Upholstered Dining Chairs, Set of 2",
                "Windsor Dining Chairs, Set of 4",
                "Cross-Back Dining Chairs, Set of 2",
                "Molded Dining Chairs, Set of 4",
            ],
            "color": [*UPH_COLORS, "Natural Oak", "Black"],
        },
        ["{brand} {kind}, {color}", "{kind} in {color}"],
        [
            "Contoured backs and padded seats for long dinners.",
            "Sturdy solid wood frames rated to 250 lb.",
            "Felt pads protect floors.",
        ],
        {"color": "color", "pieces": pick("kind", {"Set of 4": "4", "Set of 2": "2"})},
    ),
    # ---------------------------------------------------------------- Lighting
    T(
        "floor_lamp",
        "Lighting > Lamps > Floor Lamps",
        16,
        LIGHT,
        (89, 179),
        {
            "style": [
                ("Arc", 1.4),
                ("Torchiere", 0.8),
                ("Tripod", 1.0),
                (
                    "Swing-Arm",
                    1.0,
                    "A pivoting arm aims the light right over the page of a novel.",
                ),
                (
                    "Adjustable Task",
                    0.9,
                    "The adjustable head puts a focused beam on your book or needlework.",
                ),
                ("3-Light Tree", 0.9),
            ],
            "height": ["58 in.", "63 in.", "66 in.", "72 in."],
            "finish": [*METAL, "Walnut"],
            "shade": ["Linen Drum", "White Fabric", "Frosted Glass", "Metal Dome"],
        },
        [
            "{brand} {style} Floor Lamp, {height}, {finish}",
            "{height} {style} Floor Lamp with {shade} Shade, {finish}",
        ],
        [
            "Includes a foot switch and a weighted base that stays steady on carpet.",
            "Takes standard E26 bulbs up to 100 watts (bulb not included).",
            "The {shade_l} shade softens glare and spreads an even glow.",
            "Assembles in minutes without tools.",
        ],
        {"finish": "finish", "height": "height", "shade": "shade"},
    ),
    T(
        "table_lamp",
        "Lighting > Lamps > Table Lamps",
        14,
        LIGHT,
        (49, 119),
        {
            "style": ["Ceramic", "Glass Gourd", "Brass Column", "Rattan", "Stone Base", "Mushroom"],
            "pack": [("", 1.0), ("Set of 2", 1.8)],
            "color": ["White", "Sage Green", "Amber", "Black", "Terracotta", "Clear"],
        },
        ["{brand} {style} Table Lamp, {color}, {pack}", "{color} {style} Table Lamp {pack}"],
        [
            "A three-way rotary switch sets the mood from bright to low.",
            "Pairs with a linen drum shade in a soft off-white.",
            "Perfect on a console, dresser or end table.",
        ],
        {"color": "color", "style": "style"},
    ),
    T(
        "desk_lamp",
        "Lighting > Lamps > Desk Lamps",
        12,
        [*LIGHT, "Ergoline"],
        (25, 119),
        {
            "kind": [
                "LED Desk Lamp with USB Port",
                "Architect Desk Lamp",
                "Clamp-On LED Task Lamp",
                "Banker's Desk Lamp",
                "LED Desk Lamp with Wireless Charging Pad",
            ],
            "finish": [*METAL, "Green Glass"],
            "light": ["2700K-6500K adjustable", "3000K warm white", "4000K neutral white"],
        },
        ["{brand} {kind}, {finish}", "{kind} in {finish}"],
        [
            "Five brightness levels and three color modes ease eye strain during late study "
            "sessions.",
            "A weighted base and an adjustable head put light exactly where it is needed.",
            "Flicker-free LEDs rated for 50,000 hours.",
            "A memory function recalls your last brightness setting.",
        ],
        {"finish": "finish", "color_temperature": "light"},
    ),
    T(
        "pendant",
        "Lighting > Ceiling Lights > Pendant Lights",
        12,
        LIGHT,
        (49, 299),
        {
            "kind": [
                "Globe Pendant Light",
                "Dome Pendant Light",
                "Mini Pendant Light",
                "Woven Rattan Pendant Light",
                "Seeded Glass Pendant Light",
            ],
            "diameter": ["8 in.", "12 in.", "16 in."],
            "finish": METAL,
        },
        ["{brand} {diameter} {kind}, {finish}", "{kind}, {diameter}, {finish}"],
        [
            "An adjustable cord lets you set the drop anywhere up to 72 in.",
            "Use one above a sink or line up three above a breakfast counter.",
            "Compatible with dimmable LED bulbs.",
        ],
        {"finish": "finish", "diameter": "diameter"},
    ),
    T(
        "chandelier",
        "Lighting > Ceiling Lights > Chandeliers",
        10,
        LIGHT,
        (149, 699),
        {
            "kind": [
                "5-Light Chandelier",
                "Sputnik Chandelier",
                "Crystal Chandelier",
                "Wagon Wheel Chandelier",
                "Beaded Chandelier",
            ],
            "finish": METAL,
            "width": ["24 in.", "28 in.", "32 in."],
        },
        ["{brand} {kind}, {width}, {finish}", "{width} {kind} in {finish}"],
        [
            "A statement piece above a dining table or in a two-story entry.",
            "Adjustable chain and canopy kit included.",
            "Takes candelabra bulbs and works with most dimmers.",
        ],
        {"finish": "finish", "width": "width"},
    ),
    T(
        "flush_mount",
        "Lighting > Ceiling Lights > Flush Mount Lights",
        10,
        LIGHT,
        (29, 149),
        {
            "kind": ["LED Flush Mount Ceiling Light", "Semi-Flush Mount Ceiling Light"],
            "size": ["11 in.", "13 in.", "15 in."],
            "finish": METAL,
        },
        ["{brand} {size} {kind}, {finish}", "{kind}, {size}, {finish}"],
        [
            "Ideal for hallways, closets and low ceilings.",
            "Selectable color temperature from a switch on the housing.",
            "Installs in about 15 minutes on a standard junction box.",
        ],
        {"finish": "finish", "size": "size"},
    ),
    T(
        "led_bulb",
        "Lighting > Light Bulbs > LED Bulbs",
        14,
        ["Lumenfield", "Glowmere", "Halden Lighting"],
        (9, 14),
        {
            "shape": ["A19", "A21", "BR30", "PAR38", "G25 Globe", "ST19 Edison"],
            "equiv": ["40W Equivalent", "60W Equivalent", "75W Equivalent", "100W Equivalent"],
            "temp": ["Soft White 2700K", "Bright White 3000K", "Daylight 5000K"],
            "pack": [("2-Pack", 0.6), ("4-Pack", 1.0), ("6-Pack", 1.4), ("12-Pack", 2.4)],
        },
        [
            "{brand} {shape} LED Light Bulb, {equiv}, {temp}, {pack}",
            "{shape} LED Bulb, {equiv}, {temp}, Dimmable, {pack}",
        ],
        [
            "Draws a fraction of the power of the old bulb it replaces and lasts up to "
            "15,000 hours.",
            "Dimmable down to 10% without flicker or buzz.",
            "Fits standard E26 sockets.",
        ],
        {"shape": "shape", "wattage": "equiv", "color_temperature": "temp"},
    ),
    T(
        "string_lights",
        "Lighting > Outdoor Lighting > String Lights",
        8,
        ["Glowmere", "Lumenfield", "Fernbrook"],
        (24, 89),
        {
            "length": [("24 ft", 0.7), ("48 ft", 1.0), ("96 ft", 1.7)],
            "bulb": ["Shatterproof Edison Bulbs", "Globe Bulbs", "Solar Edison Bulbs"],
        },
        [
            "{brand} {length} Outdoor String Lights with {bulb}",
            "Outdoor String Lights, {length}, {bulb}",
        ],
        [
            "Weatherproof sockets rated for year-round use on patios and pergolas.",
            "Connect up to three strands end to end.",
        ],
        {"length": "length", "bulb": "bulb"},
    ),
    T(
        "path_lights",
        "Lighting > Outdoor Lighting > Path Lights",
        8,
        ["Glowmere", "Fernbrook", "Greenmere"],
        (19, 79),
        {
            "pack": [("4-Pack", 0.7), ("8-Pack", 1.0), ("12-Pack", 1.4)],
            "finish": ["Stainless Steel", "Black", "Bronze"],
        },
        ["{brand} Solar Path Lights, {pack}, {finish}", "Solar Pathway Lights in {finish}, {pack}"],
        [
            "Charge by day and switch on automatically at dusk.",
            "Stake into soil along walkways and flower beds; no wiring needed.",
        ],
        {"finish": "finish", "pack": "pack"},
    ),
    # ---------------------------------------------------------------- Home Decor
    T(
        "area_rug",
        "Home Decor > Rugs > Area Rugs",
        20,
        RUGS,
        (229, 399),
        {
            "size": [
                ("2 ft. x 3 ft.", 0.15),
                ("4 ft. x 6 ft.", 0.4),
                ("5 ft. x 8 ft.", 0.65),
                ("8 ft. x 10 ft.", 1.0),
                ("9 ft. x 12 ft.", 1.35),
            ],
            "pattern": [
                "Persian-Inspired Medallion",
                "Moroccan Trellis",
                "Abstract",
                "Solid Shag",
                "Geometric",
                "Distressed Vintage",
                "Bordered Floral",
            ],
            "material": [
                ("Wool", 1.5),
                ("Polypropylene", 0.7),
                ("Jute", 0.9),
                ("Cotton", 0.8),
                ("Viscose", 1.0),
            ],
            "color": ["Ivory", "Navy", "Rust", "Gray", "Blue", "Beige", "Multicolor", "Green"],
        },
        [
            "{pattern} Area Rug, {size}, {color}",
            "{brand} {size} {material} Area Rug, {pattern}, {color}",
        ],
        [
            "Low-pile {material_l} construction sits flat under furniture and doors.",
            "Anchors a seating group and softens footsteps on hardwood.",
            "The {pattern_l} design blends well with neutral decor.",
            "Use a rug pad to keep it from shifting.",
        ],
        {"size": "size", "material": "material", "color": "color"},
    ),
    T(
        "runner_rug",
        "Home Decor > Rugs > Runners",
        8,
        RUGS,
        (39, 159),
        {
            "size": ["2 ft. x 6 ft.", "2 ft. 6 in. x 8 ft.", "2 ft. 6 in. x 10 ft."],
            "pattern": ["Moroccan Trellis", "Striped", "Vintage Medallion", "Diamond"],
            "color": ["Ivory", "Navy", "Rust", "Gray", "Blue"],
        },
        ["{pattern} Runner Rug, {size}, {color}", "{brand} {size} Runner Rug, {pattern}"],
        [
            "A slim profile made for hallways, entryways and galley kitchens.",
            "Machine-washable with a non-slip backing.",
        ],
        {"size": "size", "color": "color"},
    ),
    T(
        "curtains",
        "Home Decor > Window Treatments > Curtains",
        12,
        [*DECOR, "Softweave"],
        (35, 69),
        {
            "kind": [
                ("Blackout Curtain Panels", 1.0),
                ("Linen Sheer Curtain Panels", 0.8),
                ("Thermal Insulated Curtain Panels", 1.1),
                ("Velvet Curtain Panels", 1.4),
            ],
            "size": [("52 in. x 63 in.", 0.8), ("52 in. x 84 in.", 1.0), ("52 in. x 96 in.", 1.15)],
            "color": TEXTILE_COLORS,
        },
        ["{brand} {kind}, {size}, {color}, Set of 2", "{kind} in {color}, {size}, Set of 2"],
        [
            "Grommet tops slide easily along a standard rod.",
            "Triple-weave fabric cuts glare and outside noise.",
            "Machine washable on a gentle cycle.",
        ],
        {"size": "size", "color": "color"},
    ),
    T(
        "mirror",
        "Home Decor > Mirrors > Wall Mirrors",
        10,
        DECOR,
        (49, 299),
        {
            "kind": [
                "Round Wall Mirror",
                "Full-Length Floor Mirror",
                "Arched Wall Mirror",
                "Rectangular Vanity Mirror",
                "Sunburst Wall Mirror",
            ],
            "size": ["24 in.", "30 in.", "36 in.", "65 in."],
            "finish": [*METAL, "Natural Wood"],
        },
        ["{brand} {size} {kind}, {finish} Frame", "{kind} with {finish} Frame, {size}"],
        [
            "Shatter-resistant glass with a slim metal frame.",
            "Hangs vertically or horizontally; D-rings pre-installed.",
        ],
        {"size": "size", "finish": "finish"},
    ),
    T(
        "throw_pillow",
        "Home Decor > Decorative Pillows > Throw Pillows",
        10,
        DECOR,
        (19, 69),
        {
            "kind": ["Throw Pillow Covers", "Velvet Throw Pillows", "Boucle Lumbar Pillow"],
            "size": ["18 in. x 18 in.", "20 in. x 20 in.", "12 in. x 20 in."],
            "color": [*TEXTILE_COLORS, "Mustard", "Rust"],
        },
        ["{brand} {kind}, {size}, {color}, Set of 2", "Decorative {kind}, {color}, {size}"],
        [
            "A pop of texture for a sofa, armchair or bed.",
            "Hidden zipper; covers are removable for washing.",
        ],
        {"size": "size", "color": "color"},
    ),
    T(
        "wall_art",
        "Home Decor > Wall Decor > Wall Art",
        8,
        DECOR,
        (39, 249),
        {
            "subject": ["Abstract Landscape", "Botanical", "Coastal", "Mid-Century Geometric"],
            "size": ["16 in. x 20 in.", "24 in. x 36 in.", "30 in. x 40 in."],
        },
        ["{brand} {subject} Framed Canvas Wall Art, {size}", "{subject} Canvas Print, {size}"],
        [
            "Gallery-wrapped canvas in a floating frame, ready to hang.",
            "Printed with fade-resistant inks.",
        ],
        {"subject": "subject", "size": "size"},
    ),
    # ---------------------------------------------------------------- Kitchen
    T(
        "thermal_carafe",
        "Kitchen > Coffee & Tea > Thermal Carafes",
        10,
        DRINK,
        (24, 69),
        {
            "kind": ["Thermal Carafe", "Vacuum-Insulated Carafe", "Pump-Action Airpot"],
            "capacity": ["34 oz", "51 oz", "68 oz", "2.2 L"],
            "material": ["Stainless Steel", "Brushed Stainless Steel", "Matte Black Stainless"],
        },
        ["{brand} {capacity} {material} {kind}", "{material} {kind}, {capacity}"],
        [
            "Double-wall vacuum insulation holds drinks at temperature for up to 12 hours.",
            "A press-button lid pours with one hand and seals tight between servings.",
            "The wide mouth makes the interior easy to rinse.",
            "Made for brunch tables, meetings and office break rooms.",
        ],
        {"capacity": "capacity", "material": "material"},
    ),
    T(
        "tumbler",
        "Kitchen > Drinkware > Tumblers",
        12,
        DRINK,
        (19, 45),
        {
            "kind": ["Insulated Tumbler with Straw Lid", "Stainless Steel Tumbler with Slider Lid"],
            "capacity": [("20 oz", 0.8), ("30 oz", 1.0), ("40 oz", 1.2)],
            "color": BRIGHT,
        },
        ["{brand} {kind}, {capacity}, {color}", "{capacity} {kind} in {color}"],
        [
            "Keeps ice frozen for a full day.",
            "The tapered base fits most car cup holders.",
            "Powder-coated for a sure grip; dishwasher-safe lid.",
        ],
        {"capacity": "capacity", "color": "color"},
    ),
    T(
        "travel_mug",
        "Kitchen > Drinkware > Travel Mugs",
        10,
        DRINK,
        (17, 39),
        {
            "capacity": ["12 oz", "16 oz", "20 oz"],
            "lid": ["Flip Lid", "Locking Lid", "Sip Lid"],
            "color": BRIGHT,
        },
        [
            "{brand} Leakproof Travel Mug with {lid}, {capacity}, {color}",
            "{capacity} Travel Mug, {color}",
        ],
        [
            "A locking lid keeps your morning drink where it belongs during the commute.",
            "Vacuum-insulated stainless steel stays cool to the touch.",
            "Fits under most single-serve brewers.",
        ],
        {"capacity": "capacity", "color": "color"},
    ),
    T(
        "water_bottle",
        "Kitchen > Drinkware > Water Bottles",
        10,
        [*DRINK, "Peakform"],
        (15, 45),
        {
            "kind": ["Insulated Water Bottle with Chug Cap", "Wide-Mouth Water Bottle"],
            "capacity": ["24 oz", "32 oz", "40 oz", "64 oz"],
            "color": BRIGHT,
        },
        ["{brand} {kind}, {capacity}, {color}", "{capacity} {kind} in {color}"],
        [
            "BPA-free, leakproof and sized for a gym bag.",
            "Keeps water icy through a long hike.",
        ],
        {"capacity": "capacity", "color": "color"},
    ),
    T(
        "skillet",
        "Kitchen > Cookware > Skillets",
        12,
        KITCH,
        (39, 79),
        {
            "size": [("8-inch", 0.7), ("10-inch", 0.9), ("12-inch", 1.1)],
            "material": [
                ("Cast Iron", 0.7, "Pre-seasoned and ready to use; goes from burner to oven."),
                ("Nonstick Aluminum", 0.6),
                ("Tri-Ply Stainless Steel", 1.4),
                ("Carbon Steel", 1.0),
                ("Hard-Anodized Nonstick", 1.0),
            ],
        },
        ["{brand} {size} {material} Skillet", "{size} {material} Skillet with Helper Handle"],
        [
            "Sears steaks, crisps potatoes and browns vegetables evenly.",
            "Sloped sides make flipping eggs and tossing stir-fries easy.",
            "Works on gas, electric, ceramic and induction cooktops.",
        ],
        {"size": "size", "material": "material"},
    ),
    T(
        "saucepan",
        "Kitchen > Cookware > Saucepans",
        8,
        KITCH,
        (29, 99),
        {
            "size": ["1.5 qt", "2 qt", "3 qt", "4 qt"],
            "material": ["Tri-Ply Stainless Steel", "Hard-Anodized Nonstick", "Copper Core"],
        },
        ["{brand} {size} {material} Saucepan with Lid", "{size} {material} Saucepan"],
        [
            "A tight-fitting glass lid locks in moisture for rice and sauces.",
            "Measurement markings are etched inside.",
        ],
        {"size": "size", "material": "material"},
    ),
    T(
        "dutch_oven",
        "Kitchen > Cookware > Dutch Ovens",
        8,
        KITCH,
        (59, 249),
        {"size": ["4.5 qt", "5.5 qt", "7.25 qt"], "color": ["Cherry Red", "Navy", "Sage", "Black"]},
        [
            "{brand} {size} Enameled Cast Iron Dutch Oven, {color}",
            "Enameled Dutch Oven, {size}, {color}",
        ],
        [
            "Even heat for braises, soups and crusty no-knead bread.",
            "Oven-safe to 500°F with a stainless knob.",
        ],
        {"capacity": "size", "color": "color"},
    ),
    T(
        "cookware_set",
        "Kitchen > Cookware > Cookware Sets",
        10,
        KITCH,
        (149, 299),
        {
            "pieces": [("10-Piece", 0.8), ("12-Piece", 1.0), ("14-Piece", 1.2)],
            "material": ["Nonstick", "Stainless Steel", "Ceramic Nonstick", "Hard-Anodized"],
        },
        ["{brand} {pieces} {material} Cookware Set", "{pieces} {material} Cookware Set with Lids"],
        [
            "Includes 8 in. and 10 in. skillets, 2 qt and 3 qt saucepans, a sauté and a stockpot.",
            "Riveted handles stay cool on the burner.",
            "Dishwasher-safe and induction-ready.",
        ],
        {"pieces": "pieces", "material": "material"},
    ),
    T(
        "knife_set",
        "Kitchen > Cutlery > Knife Sets",
        8,
        KITCH,
        (59, 299),
        {
            "pieces": ["7-Piece", "12-Piece", "15-Piece"],
            "block": ["Acacia Block", "Black Block", "Magnetic Block"],
        },
        [
            "{brand} {pieces} Knife Block Set, German Stainless Steel, {block}",
            "{pieces} Knife Set with {block}",
        ],
        [
            "Forged blades hold a keen edge; includes honing steel and kitchen shears.",
            "Full-tang handles are balanced for control.",
        ],
        {"pieces": "pieces", "block": "block"},
    ),
    T(
        "chef_knife",
        "Kitchen > Cutlery > Chef's Knives",
        8,
        KITCH,
        (29, 149),
        {
            "size": ["6-inch", "8-inch", "10-inch"],
            "steel": ["Damascus Steel", "German Steel", "VG-10 Steel"],
        },
        ["{brand} {size} Chef's Knife, {steel}", "{size} {steel} Chef's Knife with Sheath"],
        ["A razor edge for mincing herbs and breaking down squash.", "Comes in a gift box."],
        {"size": "size", "material": "steel"},
    ),
    T(
        "cutting_board",
        "Kitchen > Kitchen Tools > Cutting Boards",
        8,
        KITCH,
        (19, 79),
        {
            "material": ["Acacia Wood", "End-Grain Walnut", "Bamboo", "Composite"],
            "size": ["18 in. x 12 in.", "20 in. x 15 in.", "14 in. x 10 in."],
        },
        [
            "{brand} {material} Cutting Board, {size}",
            "{size} {material} Cutting Board with Juice Groove",
        ],
        ["A deep juice groove catches drips from roasts.", "Gentle on knife edges."],
        {"material": "material", "size": "size"},
    ),
    T(
        "kitchen_faucet",
        "Kitchen > Kitchen Faucets > Pull-Down Faucets",
        8,
        ["Aquaforge", "Pipewell", "Copperleaf"],
        (119, 349),
        {"finish": FIX_FINISH, "handle": ["Single-Handle", "Touchless"]},
        [
            "{brand} {handle} Pull-Down Kitchen Faucet with Sprayer, {finish}",
            "{handle} Pull-Down Kitchen Faucet, {finish}, model {model}",
        ],
        [
            "Magnetic docking snaps the spray head back into place.",
            "Three spray modes including a powerful blade spray.",
        ],
        {"finish": "finish", "handle": "handle"},
        model=True,
    ),
    # ---------------------------------------------------------------- Appliances
    T(
        "refrigerator",
        "Appliances > Refrigeration > Refrigerators",
        14,
        MAJOR,
        (1499, 1999),
        {
            "kind": [
                ("French Door Refrigerator", 1.1),
                ("Side-by-Side Refrigerator", 0.9),
                (
                    "Top-Freezer Refrigerator",
                    0.5,
                    "",
                    {"capacity": ["18.2 cu. ft.", "20.5 cu. ft."]},
                ),
                ("Bottom-Freezer Refrigerator", 0.7),
                ("Counter-Depth French Door Refrigerator", 1.3),
                (
                    "Compact Refrigerator",
                    0.12,
                    "Slides under a counter in a dorm room or home bar.",
                    {"capacity": ["3.1 cu. ft.", "4.4 cu. ft."]},
                ),
            ],
            "capacity": ["22.1 cu. ft.", "25.5 cu. ft.", "26.8 cu. ft.", "28 cu. ft."],
            "finish": APPL_FINISH,
        },
        [
            "{brand} {capacity} {kind}, {finish}, model {model}",
            "{kind}, {capacity}, {finish}",
            "{brand} {kind} in {finish}, {capacity}",
        ],
        [
            "Humidity-controlled crisper drawers keep produce fresh longer.",
            "Bright LED lighting and spill-proof glass shelves make leftovers easy to find.",
            "An internal water dispenser and ice maker free up door space.",
            "ENERGY STAR certified and quiet enough for open-plan kitchens.",
        ],
        {"capacity": "capacity", "finish": "finish"},
        model=True,
    ),
    T(
        "beverage_cooler",
        "Appliances > Refrigeration > Beverage Coolers",
        8,
        MAJOR,
        (249, 899),
        {
            "kind": [
                "Beverage Cooler, 120-Can",
                "Dual-Zone Wine Cooler, 28-Bottle",
                "Built-In Beverage Center, 5.3 cu. ft.",
            ],
            "finish": ["Stainless Steel", "Black"],
        },
        ["{brand} {kind}, Glass Door, {finish}", "{kind} with Glass Door, {finish}, model {model}"],
        [
            "Holds 34°F to 50°F for sodas, seltzers and wine.",
            "Reversible door and a lock to keep little hands out.",
        ],
        {
            "finish": "finish",
            "capacity": pick(
                "kind", {"120-Can": "120 cans", "28-Bottle": "28 bottles", "5.3": "5.3 cu. ft."}
            ),
        },
        model=True,
    ),
    T(
        "washer",
        "Appliances > Laundry > Washers",
        10,
        MAJOR,
        (749, 999),
        {
            "kind": [
                ("Front Load Washer", 1.1),
                ("Top Load Washer with Agitator", 0.8),
                ("High-Efficiency Top Load Washer", 0.9),
                ("Compact Front Load Washer", 1.0, "", {"capacity": ["2.4 cu. ft."]}),
            ],
            "capacity": ["4.5 cu. ft.", "5.0 cu. ft.", "5.3 cu. ft."],
            "finish": ["White", "Chrome Shadow", "Graphite"],
        },
        ["{brand} {capacity} {kind}, {finish}, model {model}", "{kind}, {capacity}, {finish}"],
        [
            "A steam cycle lifts grass and food stains from everyday clothes.",
            "The 15-minute quick cycle handles a small load before work.",
            "Vibration-reduction technology keeps spin cycles quiet.",
        ],
        {"capacity": "capacity", "finish": "finish"},
        model=True,
    ),
    T(
        "dryer",
        "Appliances > Laundry > Dryers",
        8,
        MAJOR,
        (699, 899),
        {
            "kind": [("Electric Dryer", 1.0), ("Gas Dryer", 1.1), ("Heat Pump Dryer", 1.5)],
            "capacity": ["7.4 cu. ft.", "7.8 cu. ft.", "4.0 cu. ft."],
            "finish": ["White", "Chrome Shadow", "Graphite"],
        },
        [
            "{brand} {capacity} {kind}, {finish}, model {model}",
            "{kind} with Sensor Dry, {capacity}",
        ],
        [
            "Moisture sensors end the cycle when clothes are dry.",
            "A wrinkle-prevent option tumbles clothes after the cycle ends.",
        ],
        {"capacity": "capacity", "finish": "finish"},
        model=True,
    ),
    T(
        "dishwasher",
        "Appliances > Dishwashers",
        10,
        MAJOR,
        (499, 899),
        {
            "kind": [
                ("24 in. Built-In Dishwasher with Third Rack", 1.0),
                ("24 in. Top-Control Dishwasher", 0.9),
                ("18 in. Compact Dishwasher", 0.75),
            ],
            "noise": ["42 dBA", "44 dBA", "48 dBA"],
            "finish": APPL_FINISH,
        },
        ["{brand} {kind}, {noise}, {finish}", "{kind}, {finish}, model {model}"],
        [
            "A third rack holds utensils and espresso cups.",
            "Quiet enough to run during dinner.",
            "Bottle jets clean tall glassware.",
        ],
        {"noise": "noise", "finish": "finish"},
        model=True,
    ),
    T(
        "range",
        "Appliances > Cooking > Ranges",
        10,
        MAJOR,
        (799, 1099),
        {
            "kind": [
                ("Freestanding Electric Range", 1.0),
                ("Freestanding Gas Range", 1.1),
                ("Slide-In Induction Range", 1.7),
                ("Dual Fuel Range", 2.0),
            ],
            "oven": ["5.3 cu. ft.", "5.8 cu. ft.", "6.3 cu. ft."],
            "finish": APPL_FINISH,
        },
        [
            "{brand} 30 in. {kind}, {oven} Oven, {finish}",
            "30 in. {kind} with Air Fry, {finish}, model {model}",
        ],
        [
            "Five cooktop elements including a rapid-heat burner for searing.",
            "Convection baking circulates air for even browning.",
            "The self-clean cycle takes care of spills in the oven.",
        ],
        {"oven_capacity": "oven", "finish": "finish"},
        model=True,
    ),
    T(
        "microwave",
        "Appliances > Cooking > Microwaves",
        10,
        MAJOR,
        (129, 199),
        {
            "kind": [
                ("Over-the-Range Microwave", 2.0),
                ("Countertop Microwave", 1.0),
                ("Built-In Microwave Drawer", 4.0),
            ],
            "capacity": ["1.1 cu. ft.", "1.6 cu. ft.", "1.9 cu. ft."],
            "finish": APPL_FINISH,
        },
        ["{brand} {capacity} {kind}, {finish}", "{kind}, {capacity}, {finish}, model {model}"],
        ["Sensor reheat adjusts time and power automatically.", "Turntable and one-touch popcorn."],
        {"capacity": "capacity", "finish": "finish"},
        model=True,
    ),
    T(
        "blender",
        "Appliances > Small Appliances > Blenders",
        10,
        SMALL,
        (59, 119),
        {
            "kind": [
                ("High-Performance Blender, 64 oz", 2.0),
                ("Personal Blender with 2 To-Go Cups", 0.5),
                ("Countertop Blender, 56 oz", 1.0),
                ("Immersion Blender with Whisk", 0.6),
            ],
            "power": ["1200W", "1500W", "900W", "600W"],
            "color": ["Black", "Slate", "White", "Red"],
        },
        ["{brand} {kind}, {power}, {color}", "{kind} in {color}"],
        [
            "Crushes ice and frozen fruit into silky drinks in seconds.",
            "Stainless blades and a tamper keep thick mixtures moving.",
            "Jar and blades are dishwasher-safe.",
        ],
        {"power": "power", "color": "color"},
    ),
    T(
        "air_fryer",
        "Appliances > Small Appliances > Air Fryers",
        10,
        SMALL,
        (59, 199),
        {
            "capacity": ["4 qt", "6 qt", "8 qt Dual Basket"],
            "color": ["Black", "Gray", "White"],
        },
        [
            "{brand} {capacity} Air Fryer with Digital Touchscreen, {color}",
            "{capacity} Air Fryer, {color}",
        ],
        [
            "Crisps fries and wings with little or no oil.",
            "Presets for roast, reheat and dehydrate.",
        ],
        {"capacity": "capacity", "color": "color"},
    ),
    T(
        "toaster",
        "Appliances > Small Appliances > Toasters",
        8,
        SMALL,
        (29, 129),
        {
            "kind": ["2-Slice Toaster", "4-Slice Toaster", "Toaster Oven"],
            "color": ["Stainless", "Black", "Cream"],
        },
        ["{brand} {kind}, {color}", "{kind} with Bagel Setting, {color}"],
        ["Extra-wide slots fit thick bagels.", "Seven shade settings and a removable crumb tray."],
        {"color": "color", "slices": pick("kind", {"2-Slice": "2", "4-Slice": "4", "Oven": "6"})},
    ),
    T(
        "coffee_maker",
        "Appliances > Small Appliances > Coffee Makers",
        12,
        SMALL,
        (39, 89),
        {
            "kind": [
                (
                    "12-Cup Programmable Coffee Maker",
                    1.0,
                    "Set it the night before and wake up to a fresh pot.",
                ),
                ("Single-Serve Coffee Maker", 1.0),
                ("10-Cup Coffee Maker with Thermal Carafe", 1.4),
                ("Drip Coffee Maker with Built-In Grinder", 2.0),
                ("Pour-Over Coffee Maker", 0.6),
            ],
            "color": ["Black", "Stainless", "White"],
        },
        ["{brand} {kind}, {color}", "{kind} in {color}"],
        [
            "Rinses clean in seconds.",
            "A bold setting slows the brew for a richer cup.",
            "A compact footprint leaves room on the counter.",
        ],
        {
            "color": "color",
            "capacity": pick(
                "kind",
                {
                    "12-Cup": "12 cups",
                    "10-Cup": "10 cups",
                    "Single": "1 cup",
                    "Pour": "8 cups",
                    "Drip": "12 cups",
                },
            ),
        },
    ),
    T(
        "electric_kettle",
        "Appliances > Small Appliances > Electric Kettles",
        8,
        SMALL,
        (25, 99),
        {
            "kind": ["Electric Kettle", "Gooseneck Electric Kettle", "Glass Electric Kettle"],
            "capacity": ["1.0 L", "1.7 L"],
            "color": ["Stainless", "Matte Black", "White"],
        },
        ["{brand} {capacity} {kind}, {color}", "{kind} with Temperature Presets, {capacity}"],
        [
            "Reaches a full rolling heat in about four minutes, then shuts off on its own.",
            "Variable presets suit green, white and oolong leaves.",
            "Keep-warm holds the water at temperature for 30 minutes.",
        ],
        {"capacity": "capacity", "color": "color"},
    ),
    T(
        "vacuum",
        "Appliances > Floor Care > Vacuums",
        10,
        [*SMALL, "Brennick"],
        (99, 449),
        {
            "kind": [
                ("Cordless Stick Vacuum", 1.0),
                ("Bagless Upright Vacuum", 0.8),
                ("Canister Vacuum", 1.1),
            ],
            "feature": ["HEPA Filtration", "Pet Hair Tool", "LED Headlights"],
        },
        ["{brand} {kind} with {feature}", "{kind}, {feature}, model {model}"],
        [
            "Strong suction on carpets and hard floors.",
            "Swivel steering glides around chair and table legs.",
        ],
        {"feature": "feature", "power_source": pick("kind", {"Cordless": "Battery"}, "Corded")},
        model=True,
    ),
    T(
        "robot_vacuum",
        "Appliances > Floor Care > Robot Vacuums",
        10,
        [*SMALL, "Brennick"],
        (249, 449),
        {
            "kind": [
                ("Robot Vacuum with Self-Emptying Base", 1.5),
                ("Robot Vacuum and Mop Combo", 1.3),
                ("Slim Robot Vacuum", 0.7),
            ],
            "suction": ["2700Pa Suction", "4000Pa Suction", "5500Pa Suction"],
        },
        ["{brand} {kind}, {suction}", "{kind}, {suction}, model {model}"],
        [
            "Lidar mapping plans neat cleaning routes and returns to its dock to recharge.",
            "Schedule cleanings and set no-go zones from the app.",
            "Slips under sofas and beds at just 3.2 in. tall.",
        ],
        {"suction": "suction", "mop": pick("kind", {"Mop": "Yes"}, "No")},
        model=True,
    ),
    # ---------------------------------------------------------------- Tools
    T(
        "drill",
        "Tools > Power Tools > Drills",
        14,
        POWER,
        (99, 159),
        {
            "kind": [
                ("20V Cordless Drill/Driver Kit", 1.0),
                ("20V Brushless Hammer Drill Kit", 1.4),
                ("12V Compact Cordless Drill/Driver", 0.7),
                ("7.5 Amp Corded Drill", 0.6, "", {"power": ["with 6 ft Cord"]}),
            ],
            "chuck": ["1/2 in.", "3/8 in."],
            "power": ["with 2.0Ah Battery and Charger", "with Two 4.0Ah Batteries", "(Tool Only)"],
        },
        ["{brand} {kind}, {chuck} Chuck, model {model}", "{kind} {power}, {chuck}"],
        [
            "A two-speed gearbox and 20 clutch settings handle cabinets and decking alike.",
            "A built-in LED lights dark corners.",
            "The belt clip keeps it handy on a ladder.",
        ],
        {
            "chuck": "chuck",
            "power_source": pick("kind", {"20V": "20V battery", "12V": "12V battery"}, "Corded"),
        },
        model=True,
    ),
    T(
        "impact_driver",
        "Tools > Power Tools > Impact Drivers",
        12,
        POWER,
        (99, 149),
        {
            "kind": [
                ("20V Brushless Impact Driver", 1.3),
                ("12V Compact Impact Driver", 0.7),
                ("20V Impact Driver Kit", 1.0),
            ],
            "torque": ["1,500 in-lbs", "1,800 in-lbs", "2,000 in-lbs"],
        },
        ["{brand} {kind}, 1/4 in. Hex, model {model}", "{kind} with {torque} Torque"],
        [
            "Drives long lag bolts and deck fasteners without stripping heads.",
            "A quick-release 1/4 in. hex collet accepts bits one-handed.",
            "Three speed modes for delicate trim work up to heavy framing.",
        ],
        {"torque": "torque", "voltage": lead("kind")},
        model=True,
    ),
    T(
        "circular_saw",
        "Tools > Power Tools > Saws",
        10,
        POWER,
        (119, 179),
        {
            "kind": [
                ("7-1/4 in. Cordless Circular Saw, 20V", 1.0),
                ("7-1/4 in. 15 Amp Corded Circular Saw", 0.8),
                ("6-1/2 in. Compact Circular Saw, 20V", 0.9),
                ("7-1/4 in. Worm Drive Circular Saw", 1.4),
            ],
            "extra": ["with Laser Guide", "with 24T Blade", "(Tool Only)"],
        },
        ["{brand} {kind} {extra}, model {model}", "{kind} {extra}"],
        [
            "An electric brake stops the blade in seconds.",
            "Bevels up to 56 degrees with positive stops.",
        ],
        {
            "blade": pick("kind", {"7-1/4": "7-1/4 in.", "6-1/2": "6-1/2 in."}),
            "power_source": pick("kind", {"Corded": "Corded"}, "20V battery"),
        },
        model=True,
    ),
    T(
        "screwdriver_set",
        "Tools > Hand Tools > Screwdrivers",
        8,
        HAND,
        (14, 59),
        {
            "kind": [
                "10-Piece Magnetic Screwdriver Set",
                "Ratcheting Screwdriver with 12 Bits",
                "32-Piece Precision Screwdriver Set",
                "6-Piece Insulated Screwdriver Set",
            ],
            "handle": ["Cushion Grip", "Tri-Lobe Handle", "Acetate Handle"],
        },
        ["{brand} {kind}, {handle}", "{kind} with {handle}"],
        ["Hardened tips resist cam-out.", "Comes in a roll-up storage case."],
        {
            "handle": "handle",
            "pieces": pick("kind", {"10-": "10", "32-": "32", "6-": "6", "Ratcheting": "13"}),
        },
    ),
    T(
        "hammer",
        "Tools > Hand Tools > Hammers",
        8,
        HAND,
        (14, 49),
        {
            "kind": ["Claw Hammer", "Framing Hammer", "Rubber Mallet", "Drilling Hammer"],
            "weight": ["16 oz", "20 oz", "22 oz"],
            "handle": ["Fiberglass", "Steel", "Hickory"],
        },
        ["{brand} {weight} {handle} {kind}", "{weight} {kind} with {handle} Handle"],
        ["Anti-vibration grip reduces fatigue.", "Milled face grips nail heads."],
        {"weight": "weight", "handle": "handle"},
    ),
    T(
        "wrench_set",
        "Tools > Hand Tools > Wrenches",
        8,
        HAND,
        (24, 129),
        {
            "kind": [
                "20-Piece SAE and Metric Combination Wrench Set",
                "8 in. Adjustable Wrench",
                "12-Piece Ratcheting Wrench Set",
            ],
            "finish": ["Chrome Vanadium", "Black Oxide"],
        },
        ["{brand} {kind}, {finish}", "{kind} in {finish}"],
        ["Laser-etched sizes are easy to read.", "Includes a roll-up pouch."],
        {
            "finish": "finish",
            "standard": pick("kind", {"SAE": "SAE and metric", "Adjustable": "8 in."}, "Metric"),
        },
    ),
    T(
        "tape_measure",
        "Tools > Hand Tools > Measuring Tools",
        8,
        HAND,
        (9, 35),
        {
            "length": ["16 ft", "25 ft", "30 ft", "35 ft"],
            "feature": ["Magnetic Hook", "Auto-Lock", "Wide Blade"],
        },
        ["{brand} {length} Tape Measure with {feature}", "{length} {feature} Tape Measure"],
        ["A nylon-coated blade resists wear.", "Belt clip and rubber overmold."],
        {"length": "length", "feature": "feature"},
    ),
    T(
        "tool_chest",
        "Tools > Tool Storage > Tool Chests",
        8,
        HAND,
        (199, 299),
        {
            "kind": [
                ("26 in. 5-Drawer Rolling Tool Chest", 1.0),
                ("41 in. 9-Drawer Tool Cabinet", 2.0),
                ("22 in. Portable Tool Box", 0.3),
            ],
            "color": ["Red", "Black", "Blue"],
        },
        ["{brand} {kind}, {color}", "{kind} in {color}"],
        ["Ball-bearing slides and a keyed lock.", "Drawer liners included."],
        {"color": "color", "drawers": pick("kind", {"5-Drawer": "5", "9-Drawer": "9"}, "1 tray")},
    ),
    T(
        "ladder",
        "Tools > Ladders > Step Ladders",
        8,
        HAND,
        (89, 149),
        {
            "kind": [
                ("Step Ladder", 1.0),
                (
                    "Extension Ladder",
                    1.8,
                    "Rung locks engage automatically as you raise the fly section.",
                    {"height": ["16 ft", "24 ft", "28 ft"]},
                ),
                ("Multi-Position Ladder", 1.5, "", {"height": ["17 ft", "22 ft"]}),
            ],
            "height": ["4 ft", "6 ft", "8 ft"],
            "material": [("Fiberglass", 1.3), ("Aluminum", 1.0)],
        },
        ["{brand} {height} {material} {kind}, 250 lb Capacity", "{height} {material} {kind}"],
        ["Slip-resistant steps and a tool tray top.", "Type I duty rating."],
        {"height": "height", "material": "material"},
    ),
    # ---------------------------------------------------------------- Plumbing
    T(
        "copper_fitting",
        "Plumbing > Pipe & Fittings > Copper Fittings",
        16,
        PLUMB,
        (2.5, 4.5),
        {
            "size": [("1/2 in.", 0.7), ("3/4 in.", 1.0), ("1 in.", 1.6)],
            "kind": ["90-Degree Elbow", "45-Degree Elbow", "Tee", "Coupling", "Cap"],
            "pack": [("", 1.0), ("10-Pack", 7.0)],
        },
        [
            "{size} Copper Pipe Fitting, {kind}, {pack}",
            "{brand} {size} Copper {kind} Fitting, Sweat x Sweat, {pack}",
        ],
        [
            "Wrought copper fitting for potable water lines.",
            "Solder-cup ends are cleaned and sized for Type L and Type M pipe.",
            "Meets NSF/ANSI 61.",
        ],
        {"size": "size", "material": const("Copper"), "fitting": "kind"},
    ),
    T(
        "pvc_fitting",
        "Plumbing > Pipe & Fittings > PVC Fittings",
        10,
        PLUMB,
        (1, 6),
        {
            "size": ["1/2 in.", "3/4 in.", "1 in.", "1-1/2 in."],
            "kind": ["90-Degree Elbow", "Tee", "Coupling", "Slip Cap"],
        },
        ["{size} PVC Schedule 40 {kind}", "{brand} {size} PVC {kind}, Schedule 40"],
        ["Solvent-weld socket ends for cold water and drain lines.", "White rigid PVC."],
        {"size": "size", "material": const("PVC"), "fitting": "kind"},
    ),
    T(
        "ball_valve",
        "Plumbing > Valves > Ball Valves",
        10,
        PLUMB,
        (9, 39),
        {
            "size": ["1/2 in.", "3/4 in.", "1 in."],
            "material": [("Lead-Free Brass", 1.0), ("Stainless Steel", 1.6)],
            "connection": ["Sweat", "FIP Threaded", "Push-to-Connect", "PEX Crimp"],
        },
        [
            "{size} {material} Full Port Ball Valve, {connection}",
            "{brand} {size} {connection} Ball Valve, {material}",
        ],
        ["Quarter-turn lever shuts off water fast.", "Rated to 600 PSI WOG."],
        {"size": "size", "material": "material", "connection": "connection"},
    ),
    T(
        "pex_pipe",
        "Plumbing > Pipe & Fittings > PEX Pipe",
        8,
        PLUMB,
        (39, 59),
        {
            "size": ["1/2 in.", "3/4 in.", "1 in."],
            "length": [("10 ft", 0.2), ("100 ft", 1.0), ("300 ft", 2.6)],
            "color": ["Red", "Blue", "White"],
        },
        ["{size} x {length} PEX-B Pipe, {color}", "{brand} {size} PEX-B Tubing, {length}, {color}"],
        [
            "Flexible tubing bends around corners with fewer fittings.",
            "Red for hot lines, blue for cold.",
        ],
        {"size": "size", "length": "length", "color": "color"},
    ),
    T(
        "water_heater",
        "Plumbing > Water Heaters > Tank Water Heaters",
        8,
        PLUMB,
        (599, 849),
        {
            "kind": [
                ("Electric Tank Water Heater", 1.0),
                ("Gas Tank Water Heater", 1.2),
                ("Hybrid Heat Pump Water Heater", 2.4),
                ("Tankless Gas Water Heater", 1.4, "", {"capacity": ["7.5 GPM", "9.8 GPM"]}),
            ],
            "capacity": ["40 Gallon", "50 Gallon", "65 Gallon"],
        },
        ["{brand} {capacity} {kind}, model {model}", "{capacity} {kind}, 6-Year Warranty"],
        ["Self-cleaning dip tube fights sediment.", "Fits standard closet installations."],
        {
            "capacity": "capacity",
            "fuel": pick(
                "kind",
                {"Electric": "Electric", "Gas": "Natural gas", "Heat Pump": "Electric heat pump"},
            ),
        },
        model=True,
    ),
    # ---------------------------------------------------------------- Electronics
    T(
        "television",
        "Electronics > TV & Video > Televisions",
        16,
        ["Pixelon", "Kelvale", "Quorra", "Veltra"],
        (349, 599),
        {
            "kind": [
                ("4K UHD Smart Television", 1.0),
                ("QLED 4K Smart Television", 1.35),
                (
                    "OLED 4K Smart Television",
                    2.2,
                    "",
                    {"size": [("55-inch", 0.8), ("65-inch", 1.15), ("77-inch", 1.9)]},
                ),
                (
                    "1080p HD Smart Television",
                    0.7,
                    "",
                    {"size": [("32-inch", 0.35), ("43-inch", 0.5)]},
                ),
            ],
            "size": [
                ("43-inch", 0.5),
                ("50-inch", 0.65),
                ("55-inch", 0.8),
                ("65-inch", 1.15),
                ("75-inch", 1.7),
                ("85-inch", 2.6),
            ],
            "feature": ["HDR10+", "120Hz Refresh Rate", "Hands-Free Voice Control", "Game Mode"],
        },
        [
            "{size} {kind}",
            "{brand} {size} {kind}, model {model}",
            "{size} {kind} with {feature}",
        ],
        [
            "Rich color and HDR support bring out highlights in dark scenes.",
            "Streaming apps are built in; control everything with your voice.",
            "A slim bezel and metal stand suit any room.",
            "Four HDMI inputs including eARC.",
        ],
        {
            "size": "size",
            "resolution": pick("kind", {"1080p": "1080p"}, "4K"),
            "panel": pick("kind", {"QLED": "QLED", "OLED": "OLED"}, "LED"),
        },
        model=True,
    ),
    T(
        "tv_mount",
        "Electronics > TV & Video > TV Mounts",
        8,
        ELEC,
        (29, 129),
        {
            "kind": [
                "Full-Motion TV Wall Mount",
                "Tilting TV Wall Mount",
                "Fixed Low-Profile TV Wall Mount",
            ],
            "fits": ["for 32-65 in. TVs", "for 42-85 in. TVs", "for 55-100 in. TVs"],
        },
        ["{brand} {kind} {fits}", "{kind} {fits}, VESA 600x400"],
        ["Holds up to 132 lb on wood studs.", "Post-install leveling corrects tilt."],
        {
            "fits": "fits",
            "motion": pick("kind", {"Full-Motion": "Full motion", "Tilting": "Tilt"}, "Fixed"),
        },
    ),
    T(
        "soundbar",
        "Electronics > TV & Video > Soundbars",
        10,
        [*AUDIO, "Pixelon"],
        (149, 279),
        {
            "kind": [
                ("2.1-Channel Soundbar with Wireless Subwoofer", 1.0),
                ("3.1-Channel Soundbar", 1.1),
                ("5.1.2-Channel Soundbar with Up-Firing Speakers", 2.5),
                ("Compact Soundbar", 0.5),
            ],
        },
        ["{brand} {kind}, model {model}", "{kind}, Black"],
        [
            "Connects to your TV with a single HDMI cable.",
            "A dedicated center channel makes dialogue clear.",
            "Night mode lowers explosions while keeping voices audible.",
        ],
        {
            "channels": pick("kind", {"2.1": "2.1", "3.1": "3.1", "5.1.2": "5.1.2"}, "2.0"),
            "color": const("Black"),
        },
        model=True,
    ),
    T(
        "headphones",
        "Electronics > Audio > Headphones",
        12,
        AUDIO,
        (79, 179),
        {
            "kind": [
                ("Wireless Over-Ear Headphones", 1.0, "Up to 30 hours of playback per charge."),
                ("Wireless On-Ear Headphones", 0.7, "Up to 40 hours of playback per charge."),
                ("Wired Studio Monitor Headphones", 0.8, "", {"anc": [""]}),
                ("Kids' Wireless Headphones", 0.3, "Volume is limited to 85 dB.", {"anc": [""]}),
            ],
            "anc": [
                (
                    "with Active Noise Cancelling",
                    2.0,
                    "Active noise cancelling hushes engine drone on long flights and trains.",
                ),
                ("", 1.0),
            ],
            "color": ["Black", "Silver", "Midnight Blue", "Sand"],
        },
        ["{brand} {kind} {anc}, {color}", "{kind} {anc}, {color}, model {model}"],
        [
            "Swappable ear pads and a detachable cable.",
            "Plush memory-foam ear cushions and a padded band.",
            "Fold flat into the included travel case.",
        ],
        {"color": "color", "noise_cancelling": pick("anc", {"Noise": "Yes"}, "No")},
        model=True,
    ),
    T(
        "earbuds",
        "Electronics > Audio > Earbuds",
        10,
        AUDIO,
        (49, 129),
        {
            "kind": [
                ("True Wireless Earbuds with Charging Case", 1.0),
                ("Sport Earbuds with Ear Hooks", 0.8),
            ],
            "anc": [
                (
                    "and Active Noise Cancelling",
                    1.8,
                    "Active noise cancelling quiets commuter noise.",
                ),
                ("", 1.0),
            ],
            "color": ["Black", "White", "Graphite", "Blue"],
        },
        ["{brand} {kind} {anc}, {color}", "{kind} {anc} in {color}"],
        [
            "IPX4 sweat resistance.",
            "Touch controls and a transparency mode.",
            "Up to 8 hours per charge.",
        ],
        {"color": "color", "noise_cancelling": pick("anc", {"Noise": "Yes"}, "No")},
    ),
    T(
        "bt_speaker",
        "Electronics > Audio > Portable Speakers",
        10,
        AUDIO,
        (49, 99),
        {
            "kind": [
                ("Portable Bluetooth Speaker", 1.0),
                ("Rugged Bluetooth Speaker", 1.3),
                ("Mini Bluetooth Speaker", 0.5),
            ],
            "rating": ["IPX7 Waterproof", "IP67 Dustproof and Waterproof", "Splash-Resistant"],
            "color": ["Black", "Teal", "Orange", "Gray"],
        },
        ["{brand} {kind}, {rating}, {color}", "{kind} in {color}, {rating}"],
        [
            "Floats in the pool and shrugs off sand.",
            "Pairs with a second speaker for stereo sound.",
            "Up to 16 hours of playtime.",
        ],
        {"water_rating": "rating", "color": "color"},
    ),
    T(
        "laptop",
        "Electronics > Computers > Laptops",
        12,
        ["Kelvale", "Quorra", "Veltra"],
        (599, 899),
        {
            "kind": [
                ("Laptop", 1.0),
                ("2-in-1 Touch Laptop", 1.2),
                ("Gaming Laptop", 1.8),
                ("Ultrathin Laptop", 1.4),
            ],
            "size": ["13.3-inch", "14-inch", "15.6-inch", "16-inch"],
            "spec": [
                ("8GB RAM, 256GB SSD", 0.7),
                ("16GB RAM, 512GB SSD", 1.0),
                ("32GB RAM, 1TB SSD", 1.5),
            ],
        },
        ["{brand} {size} {kind}, {spec}, model {model}", "{size} {kind} with {spec}"],
        [
            "An 8-core processor handles spreadsheets, video calls and photo edits.",
            "Backlit keyboard, fingerprint login and all-day battery life.",
            "Weighs just over 3 lb.",
        ],
        {"display": "size", "memory_storage": "spec"},
        model=True,
    ),
    T(
        "monitor",
        "Electronics > Computers > Monitors",
        12,
        ["Pixelon", "Kelvale", "Quorra"],
        (179, 299),
        {
            "size": [
                ("24-inch", 0.6),
                ("27-inch", 1.0),
                ("32-inch", 1.4),
                ("34-inch Ultrawide", 1.7),
            ],
            "res": ["1080p", "QHD", "4K UHD"],
            "kind": [
                "IPS Monitor",
                "Curved Gaming Monitor",
                ("USB-C Monitor", 1.1, "One USB-C cable carries video and powers your laptop."),
            ],
        },
        ["{brand} {size} {res} {kind}, model {model}", "{size} {res} {kind}"],
        [
            "Flicker-free backlight with a low blue light mode.",
            "Height, tilt and swivel adjustments for a healthier posture.",
            "Thin bezels make dual-display setups seamless.",
        ],
        {"size": "size", "resolution": "res"},
        model=True,
    ),
    T(
        "power_bank",
        "Electronics > Accessories > Power Banks",
        8,
        ELEC,
        (19, 79),
        {
            "kind": [
                ("10,000mAh Power Bank with USB-C", 1.0),
                ("20,000mAh Portable Power Bank", 1.4),
                ("Magnetic Wireless Power Bank, 5,000mAh", 1.2),
            ],
            "color": ["Black", "White", "Blue"],
        },
        ["{brand} {kind}, {color}", "{kind} in {color}"],
        [
            "Refills a typical smartphone two to three times.",
            "20W USB-C PD output and pass-through charging.",
        ],
        {
            "color": "color",
            "capacity": pick("kind", {"10,000": "10,000mAh", "20,000": "20,000mAh"}, "5,000mAh"),
        },
    ),
    T(
        "video_doorbell",
        "Electronics > Smart Home > Video Doorbells",
        8,
        ELEC,
        (59, 199),
        {
            "kind": ["Wired Video Doorbell", "Battery Video Doorbell"],
            "res": ["1080p", "2K", "Head-to-Toe 1536p"],
        },
        ["{brand} {res} {kind}", "{kind} with {res} Video and Chime"],
        ["Two-way talk and package detection.", "Night vision and motion zones."],
        {"resolution": "res", "power": pick("kind", {"Wired": "Hardwired"}, "Battery")},
    ),
    T(
        "smart_plug",
        "Electronics > Smart Home > Smart Plugs",
        6,
        ELEC,
        (12, 39),
        {"pack": [("2-Pack", 1.0), ("4-Pack", 1.7)], "feature": ["Energy Monitoring", "Outdoor"]},
        ["{brand} Wi-Fi Smart Plug, {feature}, {pack}", "{feature} Smart Plug {pack}"],
        ["Schedules and voice control for lamps and fans.", "No hub required."],
        {"pack": "pack", "feature": "feature"},
    ),
    # ---------------------------------------------------------------- Outdoor & Garden
    T(
        "grill",
        "Outdoor & Garden > Grills > Grills",
        14,
        GRILL,
        (299, 499),
        {
            "kind": [
                ("3-Burner Propane Gas Grill", 1.0),
                ("4-Burner Propane Gas Grill with Side Burner", 1.3),
                ("22 in. Kettle Charcoal Grill", 0.45),
                ("Wood Pellet Grill and Smoker", 1.5),
                ("Portable Tabletop Propane Grill", 0.4),
                ("Kamado Charcoal Grill", 1.4),
            ],
            "finish": ["Stainless Steel", "Black", "Matte Charcoal"],
        },
        ["{brand} {kind}, {finish}, model {model}", "{kind} in {finish}"],
        [
            "Porcelain-coated cast iron grates leave bold sear marks on burgers and ribs.",
            "A built-in lid thermometer and side shelves for tongs and platters.",
            "A slide-out grease tray makes cleanup quick.",
        ],
        {
            "fuel": pick("kind", {"Propane": "Propane", "Charcoal": "Charcoal"}, "Wood pellets"),
            "finish": "finish",
        },
        model=True,
    ),
    T(
        "lawn_mower",
        "Outdoor & Garden > Outdoor Power Equipment > Lawn Mowers",
        12,
        OUTPOW,
        (329, 449),
        {
            "kind": [
                ("21 in. Self-Propelled Gas Lawn Mower", 1.0),
                ("20 in. 40V Cordless Lawn Mower", 0.9),
                ("21 in. 80V Brushless Self-Propelled Mower", 1.3),
                ("16 in. Manual Reel Mower", 0.3),
                ("42 in. Riding Lawn Tractor", 4.0),
            ],
        },
        ["{brand} {kind}, model {model}", "{kind} with Mulching Kit"],
        [
            "Leaves a clean, even finish across the whole lawn.",
            "Seven cutting heights from 1-1/4 in. to 4 in.",
            "Rear wheels are sized for bumpy lawns.",
        ],
        {
            "power_source": pick(
                "kind", {"Gas": "Gas", "40V": "40V battery", "80V": "80V battery", "Reel": "Manual"}
            ),
            "deck": lead("kind", 2),
        },
        model=True,
    ),
    T(
        "pressure_washer",
        "Outdoor & Garden > Outdoor Power Equipment > Pressure Washers",
        8,
        OUTPOW,
        (179, 279),
        {
            "kind": [
                ("2,000 PSI Electric Pressure Washer", 0.8),
                ("3,100 PSI Gas Pressure Washer", 1.5),
                ("1,700 PSI Compact Electric Pressure Washer", 0.6),
            ],
        },
        ["{brand} {kind}, model {model}", "{kind} with 5 Quick-Connect Nozzles"],
        [
            "Blasts grime off patios, siding and vehicles.",
            "An onboard detergent tank for soap application.",
        ],
        {
            "max_pressure": pick(
                "kind", {"2,000": "2,000 PSI", "3,100": "3,100 PSI", "1,700": "1,700 PSI"}
            ),
            "power_source": pick("kind", {"Gas": "Gas"}, "Electric"),
        },
        model=True,
    ),
    T(
        "leaf_blower",
        "Outdoor & Garden > Outdoor Power Equipment > Leaf Blowers",
        8,
        OUTPOW,
        (79, 249),
        {
            "kind": [
                "40V Cordless Leaf Blower",
                "Backpack Gas Leaf Blower",
                "Corded Electric Leaf Blower",
            ],
            "cfm": ["450 CFM", "550 CFM", "600 CFM"],
        },
        ["{brand} {kind}, {cfm}", "{kind}, {cfm}, model {model}"],
        ["A variable-speed trigger with turbo boost.", "Lightweight with low noise."],
        {
            "airflow": "cfm",
            "power_source": pick("kind", {"40V": "40V battery", "Gas": "Gas"}, "Corded electric"),
        },
        model=True,
    ),
    T(
        "garden_hose",
        "Outdoor & Garden > Watering > Garden Hoses",
        10,
        ["Greenmere", "Fernbrook"],
        (19, 89),
        {
            "kind": [
                "Garden Hose",
                "Expandable Garden Hose",
                "Heavy-Duty Rubber Garden Hose",
                "Lightweight Hybrid Garden Hose",
            ],
            "length": [("25 ft", 0.5), ("50 ft", 0.8), ("75 ft", 1.0), ("100 ft", 1.3)],
        },
        ["{brand} {length} {kind}, 5/8 in.", "{kind}, 5/8 in. x {length}"],
        ["Kink-resistant with crush-proof brass fittings.", "Drinking-water safe."],
        {"length": "length", "diameter": const("5/8 in.")},
    ),
    T(
        "patio_set",
        "Outdoor & Garden > Patio Furniture > Patio Sets",
        10,
        PATIO,
        (449, 749),
        {
            "kind": [
                ("5-Piece Patio Dining Set", 1.0),
                ("4-Piece Wicker Patio Conversation Set", 1.1),
                ("3-Piece Bistro Set", 0.4),
                ("7-Piece Aluminum Patio Dining Set", 1.6),
            ],
            "color": ["Gray", "Beige", "Navy", "Brown"],
        },
        ["{brand} {kind}, {color} Cushions", "{kind} with {color} Cushions"],
        [
            "A powder-coated frame resists rust through rainy seasons.",
            "Olefin cushions resist fading in direct sun.",
            "A tempered glass tabletop is easy to hose down.",
        ],
        {"color": "color", "pieces": lead("kind")},
    ),
    T(
        "adirondack",
        "Outdoor & Garden > Patio Furniture > Patio Chairs",
        8,
        PATIO,
        (129, 299),
        {
            "kind": ["Adirondack Chair", "Folding Adirondack Chair", "Rocking Adirondack Chair"],
            "color": ["White", "Black", "Sand", "Turquoise", "Lime"],
        },
        ["{brand} {kind}, HDPE Poly Lumber, {color}", "{kind} in {color}"],
        ["Won't rot, splinter or need paint.", "Wide armrests hold a drink."],
        {"material": const("HDPE poly lumber"), "color": "color"},
    ),
    T(
        "planter",
        "Outdoor & Garden > Planters > Planters",
        8,
        ["Greenmere", "Fernbrook", "Marlowe Living"],
        (19, 99),
        {
            "kind": [
                ("Self-Watering Planter", 1.0),
                ("Fiberstone Planter", 1.2),
                (
                    "Raised Garden Bed",
                    1.6,
                    "Open-bottom design lets roots reach the soil below.",
                    {"size": ["48 in. x 24 in.", "72 in. x 36 in."]},
                ),
            ],
            "size": ["10 in.", "12 in.", "16 in."],
        },
        ["{brand} {size} {kind}", "{kind}, {size}"],
        ["Drainage holes and a removable plug.", "UV-stable finish."],
        {
            "size": "size",
            "material": pick(
                "kind", {"Fiberstone": "Fiberstone", "Raised": "Galvanized steel"}, "Resin"
            ),
        },
    ),
    T(
        "grill_accessory",
        "Outdoor & Garden > Grills > Grill Accessories",
        8,
        ["Emberline", "Fernbrook"],
        (19, 69),
        {
            "kind": [
                "Heavy-Duty Grill Cover",
                "18-Piece Stainless Steel Grill Tool Set",
                "Cast Iron Griddle Insert",
                "Wireless Meat Thermometer with 2 Probes",
                "Grill Brush and Scraper",
            ],
            "fits": ["Fits Most 3-Burner Grills", "Fits Most 4-Burner Grills", "Universal Fit"],
        },
        ["{brand} {kind}, {fits}", "{kind} ({fits})"],
        [
            "Built to live outdoors through sun, rain and snow.",
            "A handy upgrade for weekend cookouts.",
        ],
        {"fits": "fits", "type": "kind"},
    ),
    # ---------------------------------------------------------------- Bath
    T(
        "bath_towel",
        "Bath > Towels > Bath Towels",
        12,
        TEXT,
        (29, 99),
        {
            "kind": [
                (
                    "6-Piece Turkish Cotton Towel Set",
                    1.0,
                    "Includes two bath towels, two hand towels and two washcloths.",
                ),
                ("Quick-Dry Waffle Bath Towels, Set of 4", 0.8),
                ("Oversized Bath Sheets, Set of 2", 0.9),
                ("8-Piece Organic Cotton Towel Set", 1.3),
            ],
            "color": TEXTILE_COLORS,
        },
        ["{brand} {kind}, {color}", "{kind} in {color}"],
        [
            "Long-staple cotton loops get softer with every wash.",
            "Fade-resistant color that holds up to hot washes.",
            "OEKO-TEX certified.",
        ],
        {
            "color": "color",
            "material": pick(
                "kind", {"Turkish": "Turkish cotton", "Organic": "Organic cotton"}, "Cotton"
            ),
        },
    ),
    T(
        "showerhead",
        "Bath > Showers > Showerheads",
        10,
        BATHB,
        (25, 149),
        {
            "kind": [
                (
                    "10 in. Rainfall Showerhead",
                    1.0,
                    "Its wide face lets water fall straight down in a gentle, drenching sheet.",
                ),
                ("Handheld Showerhead with 60 in. Hose", 0.8),
                ("High-Pressure Fixed Showerhead", 0.6),
                ("Dual Showerhead Combo with Handheld", 1.2),
            ],
            "finish": FIX_FINISH,
        },
        ["{brand} {kind}, {finish}", "{kind} in {finish}, 1.8 GPM"],
        [
            "Silicone nozzles wipe clean of mineral buildup.",
            "Installs without tools on a standard arm.",
        ],
        {"finish": "finish", "flow_rate": const("1.8 GPM")},
    ),
    T(
        "bath_faucet",
        "Bath > Bathroom Faucets > Sink Faucets",
        10,
        BATHB,
        (59, 249),
        {
            "kind": [
                "Single-Handle Bathroom Faucet",
                "Widespread 8 in. Bathroom Faucet",
                "Waterfall Vessel Sink Faucet",
                "Centerset 4 in. Bathroom Faucet",
            ],
            "finish": FIX_FINISH,
        },
        ["{brand} {kind}, {finish}, model {model}", "{kind} with Drain Assembly, {finish}"],
        ["Ceramic disc cartridge for drip-free use.", "WaterSense certified at 1.2 GPM."],
        {"finish": "finish", "flow_rate": const("1.2 GPM")},
        model=True,
    ),
    T(
        "vanity",
        "Bath > Bathroom Vanities > Vanities",
        10,
        [*BATHB, "Ashgrove Home"],
        (399, 699),
        {
            "width": [
                ("24 in.", 0.6),
                ("30 in.", 0.75),
                ("36 in.", 1.0),
                ("48 in.", 1.4),
                ("60 in.", 2.0),
            ],
            "top": ["Quartz Top", "Cultured Marble Top", "Ceramic Top"],
            "finish": ["White", "Navy", "Gray", "Natural Oak"],
        },
        [
            "{brand} {width} Single Sink Bathroom Vanity with {top}, {finish}",
            "{width} Bathroom Vanity in {finish} with {top}",
        ],
        [
            "Soft-close doors and a full-extension drawer.",
            "Pre-drilled for an 8 in. widespread faucet.",
        ],
        {"width": "width", "finish": "finish", "top": "top"},
    ),
    T(
        "toilet",
        "Bath > Toilets > Toilets",
        8,
        BATHB,
        (159, 599),
        {
            "kind": [
                "Two-Piece Elongated Toilet",
                "One-Piece Elongated Toilet",
                "Two-Piece Round Toilet",
                "Wall-Hung Toilet",
            ],
            "flow": ["1.28 GPF", "1.1/1.6 GPF Dual Flush"],
        },
        ["{brand} {kind}, {flow}", "{kind}, {flow}, Comfort Height"],
        ["Powerful single-flush bowl clearing.", "Soft-close seat included."],
        {"flush": "flow", "bowl": pick("kind", {"Round": "Round"}, "Elongated")},
    ),
    T(
        "bath_mat",
        "Bath > Bath Rugs & Mats > Bath Mats",
        10,
        TEXT,
        (15, 49),
        {
            "kind": [
                "Memory Foam Bath Mat",
                "Cotton Bath Rug",
                "Diatomite Stone Bath Mat",
                "Chenille Bath Rug",
            ],
            "size": ["17 in. x 24 in.", "20 in. x 32 in.", "24 in. x 60 in."],
            "color": TEXTILE_COLORS,
        },
        ["{brand} {kind}, {size}, {color}", "{kind} in {color}, {size}"],
        ["Absorbent with a non-slip backing.", "Machine washable."],
        {"size": "size", "color": "color"},
    ),
    # ---------------------------------------------------------------- Bedding
    T(
        "sheet_set",
        "Bedding > Sheets > Sheet Sets",
        14,
        BED,
        (49, 99),
        {
            "size": [
                ("Twin", 0.7),
                ("Full", 0.85),
                ("Queen", 1.0),
                ("King", 1.15),
                ("California King", 1.15),
            ],
            "fabric": [
                ("400 Thread Count Cotton Sateen", 1.2),
                ("Percale Cotton", 1.0),
                ("Washed Linen", 1.8),
                ("Bamboo Viscose", 1.1),
                ("Brushed Microfiber", 0.5),
                ("Jersey Knit", 0.6),
            ],
            "color": TEXTILE_COLORS,
        },
        ["{size} Sheet Set, {fabric}, {color}", "{brand} {fabric} Sheet Set, {size}, {color}"],
        [
            "Deep pockets fit mattresses up to 16 in.",
            "Includes a flat sheet, fitted sheet and two pillowcases.",
            "Breathable fabric that softens with washing.",
        ],
        {"size": "size", "material": "fabric", "color": "color"},
    ),
    T(
        "comforter",
        "Bedding > Comforters & Duvets > Comforters",
        12,
        BED,
        (89, 159),
        {
            "kind": [
                ("All-Season Down Alternative Comforter", 1.0),
                (
                    "White Goose Down Comforter",
                    2.0,
                    "Baffle-box construction traps heat for cold bedrooms.",
                ),
                ("Quilted Comforter Set, 3-Piece", 1.0),
                ("Cooling Comforter", 1.1),
            ],
            "size": [("Twin", 0.7), ("Full/Queen", 1.0), ("King", 1.2)],
            "color": TEXTILE_COLORS,
        },
        ["{brand} {kind}, {size}, {color}", "{kind} in {color}, {size}"],
        [
            "Sewn-through boxes keep the fill evenly distributed.",
            "Corner loops secure it inside a duvet cover.",
            "Lofty and cozy for chilly evenings.",
        ],
        {"size": "size", "color": "color"},
    ),
    T(
        "duvet_cover",
        "Bedding > Comforters & Duvets > Duvet Covers",
        8,
        BED,
        (49, 179),
        {
            "size": ["Full/Queen", "King"],
            "fabric": ["Cotton Percale", "Washed Linen", "Waffle Weave"],
            "color": TEXTILE_COLORS,
        },
        [
            "{brand} {fabric} Duvet Cover Set, {size}, {color}",
            "{fabric} Duvet Cover, {size}, {color}",
        ],
        ["Hidden button closure and corner ties.", "Includes two shams."],
        {"size": "size", "material": "fabric", "color": "color"},
    ),
    T(
        "bed_pillow",
        "Bedding > Pillows > Bed Pillows",
        10,
        BED,
        (35, 69),
        {
            "kind": [
                "Shredded Memory Foam Bed Pillow",
                "Down Alternative Bed Pillow",
                "Side Sleeper Bed Pillow",
                "Cooling Gel Bed Pillow",
            ],
            "size": ["Standard", "Queen", "King"],
            "pack": [("Single", 1.0), ("2-Pack", 1.8)],
        },
        ["{brand} {kind}, {size}, {pack}", "{kind}, {size} Size, {pack}"],
        [
            "Adjustable fill lets you tune the loft for back, side or stomach sleepers.",
            "A breathable cover keeps you from overheating.",
            "Supports the neck and shoulders to ease morning stiffness.",
        ],
        {
            "size": "size",
            "fill": pick(
                "kind",
                {
                    "Shredded": "Shredded memory foam",
                    "Down": "Down alternative",
                    "Gel": "Gel-infused foam",
                },
                "Memory foam",
            ),
        },
    ),
    T(
        "mattress",
        "Bedding > Mattresses > Mattresses",
        12,
        BED,
        (549, 899),
        {
            "kind": [
                ("Memory Foam Mattress", 1.0),
                ("Hybrid Mattress", 1.3),
                ("Innerspring Mattress", 0.8),
                ("Latex Hybrid Mattress", 1.6),
            ],
            "thickness": [("10 in.", 0.85), ("12 in.", 1.0), ("14 in.", 1.2)],
            "size": [("Twin", 0.55), ("Full", 0.75), ("Queen", 1.0), ("King", 1.25)],
            "firmness": ["Medium", "Medium-Firm", "Plush", "Firm"],
        },
        ["{brand} {thickness} {kind}, {size}, {firmness}", "{thickness} {firmness} {kind}, {size}"],
        [
            "Zoned support keeps the spine aligned.",
            "Arrives rolled in a box; expands in 24 hours.",
            "Backed by a 100-night trial.",
        ],
        {"size": "size", "firmness": "firmness", "thickness": "thickness"},
    ),
    T(
        "mattress_topper",
        "Bedding > Mattresses > Mattress Toppers",
        6,
        BED,
        (59, 199),
        {
            "kind": [
                "3 in. Gel Memory Foam Mattress Topper",
                "2 in. Down Alternative Mattress Topper",
            ],
            "size": ["Twin", "Full", "Queen", "King"],
        },
        ["{brand} {kind}, {size}", "{kind} with Deep Pocket Skirt, {size}"],
        ["Adds plush comfort to a firm mattress.", "Removable washable cover."],
        {"size": "size", "material": pick("kind", {"Gel": "Gel memory foam"}, "Down alternative")},
    ),
    T(
        "throw_blanket",
        "Bedding > Blankets & Throws > Throw Blankets",
        8,
        [*BED, "Loomcraft"],
        (29, 129),
        {
            "kind": [
                "Chunky Knit Throw Blanket",
                "Sherpa Fleece Throw",
                "15 lb Weighted Blanket",
                "Cotton Waffle Throw",
            ],
            "size": ["50 in. x 60 in.", "60 in. x 80 in."],
            "color": TEXTILE_COLORS,
        },
        ["{brand} {kind}, {size}, {color}", "{kind} in {color}, {size}"],
        ["Soft enough for movie nights on the sofa.", "Machine washable cold."],
        {"size": "size", "color": "color"},
    ),
    # ---------------------------------------------------------------- Sports
    T(
        "running_shoe",
        "Sports > Footwear > Running Shoes",
        16,
        SPORT,
        (89, 129),
        {
            "line": ["Velo 5", "Tempo Pro", "Strata 3", "Rally 2", "Flux 7"],
            "gender": ["Men's", "Women's"],
            "kind": [
                ("Road Running Shoe", 1.0),
                ("Cushioned Road Running Shoe", 1.15),
                ("Lightweight Racing Shoe", 1.3),
                ("Trail Running Shoe", 1.1, "Lugged outsoles bite into mud and loose gravel."),
                ("Stability Running Shoe", 1.1),
            ],
            "color": ["Black/White", "Blue/Volt", "Gray/Coral", "Navy/Orange", "All White"],
        },
        ["{brand} {line} {gender} {kind}, {color}", "{gender} {kind} {line}, {color}"],
        [
            "A responsive foam midsole returns energy mile after mile.",
            "Engineered mesh upper breathes on warm days.",
            "An 8 mm heel-to-toe drop for a natural stride.",
        ],
        {
            "gender": "gender",
            "color": "color",
            "terrain": pick("kind", {"Trail": "Trail"}, "Road"),
            "drop": const("8 mm"),
        },
    ),
    T(
        "training_shoe",
        "Sports > Footwear > Training Shoes",
        6,
        SPORT,
        (59, 129),
        {"gender": ["Men's", "Women's"], "color": ["Black", "White/Gray", "Olive"]},
        [
            "{brand} {gender} Cross-Training Shoe, {color}",
            "{gender} Cross-Training Shoe in {color}",
        ],
        ["A flat, stable base for lifting and lateral moves.", "Rope-guard overlay for climbs."],
        {"gender": "gender", "color": "color"},
    ),
    T(
        "yoga_mat",
        "Sports > Fitness > Yoga Mats",
        10,
        FIT,
        (29, 59),
        {
            "material": [("TPE", 0.7), ("Natural Rubber", 1.3), ("Cork", 1.2), ("PVC", 0.5)],
            "thickness": ["4 mm", "6 mm", "8 mm"],
            "color": ["Plum", "Teal", "Black", "Sand", "Slate"],
        },
        [
            "{brand} {thickness} {material} Yoga Mat, 72 in. x 24 in., {color}",
            "{material} Yoga Mat, {thickness}, {color}",
        ],
        ["Non-slip texture on both sides.", "Carrying strap included."],
        {"material": "material", "thickness": "thickness", "color": "color"},
    ),
    T(
        "dumbbells",
        "Sports > Fitness > Strength Training",
        10,
        FIT,
        (39, 99),
        {
            "kind": [
                ("Adjustable Dumbbell Set, 5-52.5 lb", 5.0),
                (
                    "Hex Rubber Dumbbell Pair",
                    0.8,
                    "Hexagonal heads keep them from rolling.",
                    {"load": ["10 lb", "15 lb", "20 lb", "25 lb", "30 lb"]},
                ),
                ("Neoprene Dumbbell Set with Rack", 1.2),
            ],
            "load": ["32 lb Total", "50 lb Total"],
        },
        ["{brand} {kind}, {load}", "{kind} ({load})"],
        [
            "A textured grip stays secure in sweaty hands.",
            "Compact enough to store under a bed or in a closet.",
            "Build strength at home with curls, presses and rows.",
        ],
        {
            "weight": "load",
            "material": pick("kind", {"Hex": "Rubber", "Neoprene": "Neoprene"}, "Steel"),
        },
    ),
    T(
        "kettlebell",
        "Sports > Fitness > Strength Training",
        8,
        FIT,
        (29, 119),
        {
            "kind": ["Cast Iron Kettlebell", "Vinyl-Coated Kettlebell", "Adjustable Kettlebell"],
            "load": ["15 lb", "20 lb", "25 lb", "35 lb", "44 lb"],
        },
        ["{brand} {kind}, {load}", "{load} {kind}"],
        ["A wide handle fits two hands for swings.", "Flat base for renegade rows."],
        {"weight": "load", "material": pick("kind", {"Vinyl": "Vinyl-coated iron"}, "Cast iron")},
    ),
    T(
        "treadmill",
        "Sports > Fitness > Cardio Equipment",
        8,
        FIT,
        (599, 899),
        {
            "kind": [
                (
                    "Folding Treadmill with Incline",
                    1.0,
                    "Folds upright with a hydraulic assist; speeds up to 10 mph.",
                ),
                (
                    "Under-Desk Walking Pad",
                    0.45,
                    "Slides under a desk or sofa when not in use; tops out at 4 mph.",
                    {"motor": ["1.5 HP", "2.0 HP"]},
                ),
                (
                    "Commercial-Grade Treadmill",
                    2.2,
                    "Speeds up to 12 mph with 15 levels of incline.",
                ),
            ],
            "motor": ["2.5 HP", "3.0 HP", "3.5 HP"],
        },
        ["{brand} {kind}, {motor}", "{kind}, {motor} Motor"],
        [
            "Cushioned deck is gentle on knees.",
            "The console shows speed, time, distance and calories.",
            "Bluetooth syncs workouts with popular fitness apps.",
        ],
        {"motor": "motor", "foldable": pick("kind", {"Folding": "Yes", "Walking": "Yes"}, "No")},
    ),
    T(
        "exercise_bike",
        "Sports > Fitness > Cardio Equipment",
        6,
        FIT,
        (299, 699),
        {
            "kind": [
                "Indoor Cycling Bike with Magnetic Resistance",
                "Recumbent Exercise Bike",
                "Air Bike",
            ],
            "color": ["Black", "White"],
        },
        ["{brand} {kind}, {color}", "{kind} in {color}"],
        ["Whisper-quiet flywheel.", "Tablet holder and heart-rate grips."],
        {
            "resistance": pick("kind", {"Magnetic": "Magnetic", "Air": "Air"}, "Magnetic"),
            "color": "color",
        },
    ),
    T(
        "bike",
        "Sports > Cycling > Bikes",
        12,
        ["Trailkin", "Peakform", "Stridemax"],
        (499, 799),
        {
            "kind": [
                (
                    "Hybrid Bike",
                    1.0,
                    "An upright riding position and puncture-resistant tires suit daily trips "
                    "across town.",
                ),
                ("Road Bike", 1.6),
                ("Mountain Bike", 1.3, "", {"wheel": ["27.5 in.", "29 in."]}),
                (
                    "Electric Hybrid Bike",
                    2.4,
                    "A 500 Wh battery gives about 50 miles of pedal assist.",
                ),
                ("Folding City Bike", 0.8, "", {"wheel": ["20 in."]}),
            ],
            "wheel": ["700c"],
            "frame": ["Aluminum", "Steel", "Carbon"],
            "size": ["Small", "Medium", "Large"],
        },
        [
            "{brand} {kind}, {wheel} Wheels, {frame} Frame, {size}",
            "{frame} {kind}, {wheel}, {size}",
        ],
        [
            "Hydraulic disc brakes stop confidently in the wet.",
            "Rack and fender mounts included.",
            "Wide-range gearing for hills.",
        ],
        {"frame": "frame", "wheel_size": "wheel", "size": "size"},
    ),
    T(
        "tent",
        "Sports > Camping > Tents",
        10,
        ["Trailkin", "Peakform", "Fernbrook"],
        (119, 229),
        {
            "kind": [
                ("2-Person Backpacking Tent", 1.0),
                ("4-Person Dome Tent", 0.9),
                ("6-Person Cabin Tent", 1.4),
                ("8-Person Instant Tent", 1.7),
            ],
            "season": ["3-Season", "4-Season"],
        },
        ["{brand} {kind}, {season}", "{season} {kind} with Rainfly"],
        [
            "Color-coded poles pitch in under ten minutes.",
            "A full-coverage rainfly and taped seams keep the interior dry.",
            "Mesh roof panels for stargazing on clear nights.",
        ],
        {"season": "season", "capacity": lead("kind")},
    ),
    T(
        "sleeping_bag",
        "Sports > Camping > Sleeping Bags",
        8,
        ["Trailkin", "Peakform", "Fernbrook"],
        (39, 249),
        {
            "rating": ["20°F", "30°F", "40°F", "0°F"],
            "kind": ["Mummy Sleeping Bag", "Rectangular Sleeping Bag", "Down Mummy Sleeping Bag"],
        },
        ["{brand} {rating} {kind}", "{kind}, {rating} Rated"],
        ["Compresses into a stuff sack.", "Two-way zipper with draft collar."],
        {"temperature_rating": "rating", "shape": pick("kind", {"Mummy": "Mummy"}, "Rectangular")},
    ),
    T(
        "backpack",
        "Sports > Camping > Backpacks",
        8,
        ["Trailkin", "Peakform"],
        (49, 249),
        {"size": ["24 L", "40 L", "65 L"], "color": ["Forest Green", "Black", "Rust", "Slate"]},
        [
            "{brand} {size} Hiking Backpack, {color}",
            "{size} Hiking Backpack with Rain Cover, {color}",
        ],
        ["Adjustable torso length and a ventilated back panel.", "Hydration sleeve compatible."],
        {"capacity": "size", "color": "color"},
    ),
    # ---------------------------------------------------------------- Office
    T(
        "office_chair",
        "Office > Office Furniture > Office Chairs",
        14,
        OFFICE,
        (179, 349),
        {
            "kind": [
                ("Ergonomic Mesh Office Chair", 1.2),
                ("High-Back Executive Office Chair", 1.1),
                ("Drafting Chair", 0.8),
                ("Armless Task Chair", 0.5),
                ("Big and Tall Office Chair", 1.3),
            ],
            "material": ["Mesh", "Bonded Leather", "Fabric"],
            "color": ["Black", "Gray", "White", "Navy"],
        },
        [
            "{brand} {kind}, {color} {material}",
            "{kind} with Lumbar Support, {color}, model {model}",
        ],
        [
            "Adjustable lumbar support, seat depth and 4D armrests fit a wide range of bodies.",
            "A synchro-tilt mechanism reclines the back and seat together.",
            "Breathable back keeps you cool through a full workday.",
        ],
        {"material": "material", "color": "color"},
        model=True,
    ),
    T(
        "desk",
        "Office > Office Furniture > Desks",
        12,
        OFFICE,
        (249, 449),
        {
            "kind": [
                (
                    "Electric Standing Desk",
                    1.0,
                    "Dual motors raise the top from 28 in. to 47 in. with memory presets.",
                ),
                (
                    "Manual Crank Standing Desk",
                    0.7,
                    "A fold-away crank adjusts the height from sitting to standing.",
                ),
                ("Writing Desk", 0.5),
                ("L-Shaped Desk", 0.9),
                ("L-Shaped Electric Standing Desk", 1.3),
                ("Executive Desk", 1.4),
            ],
            "size": ["48 in. x 24 in.", "55 in. x 28 in.", "60 in. x 30 in."],
            "finish": ["Walnut", "White", "Black", "Natural Oak"],
        },
        ["{brand} {kind}, {size}, {finish}", "{kind} in {finish}, {size}"],
        ["Cable tray keeps cords off the floor.", "Steel frame with a 200 lb load rating."],
        {"size": "size", "finish": "finish"},
    ),
    T(
        "file_cabinet",
        "Office > Office Furniture > File Cabinets",
        8,
        OFFICE,
        (99, 399),
        {
            "kind": [
                "3-Drawer Mobile File Cabinet",
                "2-Drawer Lateral File Cabinet",
                "4-Drawer Vertical File Cabinet",
            ],
            "color": ["Black", "White", "Gray"],
        },
        ["{brand} {kind}, {color}", "{kind} with Lock, {color}"],
        ["Holds letter- and legal-size hanging folders.", "Central lock secures all drawers."],
        {"color": "color", "drawers": lead("kind")},
    ),
    T(
        "shredder",
        "Office > Office Electronics > Paper Shredders",
        8,
        OFFICE,
        (79, 149),
        {
            "kind": [
                ("12-Sheet Cross-Cut Paper Shredder", 1.0),
                ("8-Sheet Micro-Cut Paper Shredder", 0.9),
                ("100-Sheet Auto-Feed Paper Shredder", 2.5),
            ],
            "bin": ["5 Gallon Bin", "7 Gallon Bin"],
        },
        ["{brand} {kind} with {bin}", "{kind}, {bin}, model {model}"],
        [
            "Turns bank statements and old tax forms into tiny confetti-size particles.",
            "Also handles staples, paper clips and credit cards.",
            "Jam-proof and quiet.",
        ],
        {
            "bin": "bin",
            "cut": pick("kind", {"Cross": "Cross-cut", "Micro": "Micro-cut"}, "Cross-cut"),
        },
        model=True,
    ),
    T(
        "printer",
        "Office > Office Electronics > Printers",
        8,
        ["Kelvale", "Quorra", "Deskwright"],
        (119, 219),
        {
            "kind": [
                ("Wireless All-in-One Inkjet Printer", 1.0),
                ("Monochrome Laser Printer", 1.3),
                ("Color Laser Printer", 2.0),
            ]
        },
        ["{brand} {kind}, model {model}", "{kind} with Auto Duplex"],
        ["Prints from phones, tablets and laptops over Wi-Fi.", "A 250-sheet paper tray."],
        {
            "technology": pick("kind", {"Inkjet": "Inkjet"}, "Laser"),
            "color_printing": pick("kind", {"Monochrome": "No"}, "Yes"),
        },
        model=True,
    ),
    T(
        "paper_notebook",
        "Office > Paper > Notebooks",
        8,
        PAPER,
        (7, 29),
        {
            "kind": [
                "Hardcover Ruled Notebook, A5",
                "Spiral Notebook, College Ruled",
                "Dot Grid Notebook",
                "Composition Notebook",
            ],
            "pack": ["3-Pack", "5-Pack", "Single"],
        },
        ["{brand} {kind}, {pack}", "{kind}, 192 Pages, {pack}"],
        ["Thick 100 gsm paper resists bleed-through.", "Lay-flat binding."],
        {
            "ruling": pick(
                "kind",
                {"Dot": "Dot grid", "College": "College ruled", "Composition": "Wide ruled"},
                "Ruled",
            ),
            "pack": "pack",
        },
    ),
    T(
        "pens",
        "Office > Writing Supplies > Pens",
        8,
        PAPER,
        (6, 24),
        {
            "kind": ["Gel Ink Pens", "Retractable Ballpoint Pens", "Fine Point Felt Tip Pens"],
            "tip": ["0.5 mm", "0.7 mm", "1.0 mm"],
            "pack": ["12-Pack", "24-Pack"],
        },
        ["{brand} {kind}, {tip}, Black, {pack}", "{kind}, {tip}, Assorted Colors, {pack}"],
        ["Quick-drying ink that won't smear.", "Comfort grip."],
        {"tip": "tip", "pack": "pack"},
    ),
]


# --------------------------------------------------------------------------------------
# Product generation
# --------------------------------------------------------------------------------------


def _opt(raw: Any) -> dict[str, Any]:
    """Normalise a slot option to {"v", "f", "s", "x"} (value, factor, sentence, overrides)."""
    given = (raw,) if isinstance(raw, str) else tuple(raw)
    v, f, s, x = given + ("", 1.0, "", {})[len(given) :]
    return {"v": v, "f": float(f), "s": s, "x": x}


def _pretty_price(rng: random.Random, x: float) -> float:
    if x < 20:
        return round(max(1, math.floor(x)) + rng.choice([0.49, 0.99, 0.79]), 2)
    if x < 200:
        return round(math.floor(x) + rng.choice([0.99, 0.99, 0.95, 0.49, 0.0]), 2)
    return round(math.floor(x / 10) * 10 + rng.choice([9.99, 9.0, 9.95, 0.0]), 2)


def _clean(s: str) -> str:
    s = re.sub(r"\s+", " ", s)
    s = s.replace(" ,", ",").replace(",,", ",").replace(" )", ")").replace("( ", "(")
    s = re.sub(r"\(\s*\)", "", s)
    s = re.sub(r"\s+", " ", s)
    return s.strip().rstrip(",").strip()


def _pick_brand(rng: random.Random, brands: list[str], model: bool) -> str:
    if model:
        brands = [b for b in brands if b in MODEL_PREFIX] or brands
    return rng.choice(brands)


def make_products(rng: random.Random) -> list[dict[str, Any]]:
    titles_seen: set[str] = set()
    models_seen: set[str] = set()
    products: list[dict[str, Any]] = []
    for spec in TYPES:
        for _ in range(spec["n"]):
            for _attempt in range(200):
                brand = _pick_brand(rng, spec["brands"], spec["model"])
                chosen = {k: _opt(rng.choice(opts)) for k, opts in spec["slots"].items()}
                for opt in list(chosen.values()):
                    for k, opts in opt["x"].items():
                        chosen[k] = _opt(rng.choice(opts))
                values = {k: o["v"] for k, o in chosen.items()}
                model = ""
                if spec["model"]:
                    if brand not in MODEL_PREFIX:
                        raise ValueError(f"{brand} sells {spec['key']} but has no model prefix")
                    model = f"{MODEL_PREFIX[brand]}-{rng.randint(1000, 9899)}"
                    if rng.random() < 0.3:
                        model += rng.choice("ABKX")
                fmt = dict(values)
                fmt.update({f"{k}_l": v.lower() for k, v in values.items()})
                fmt.update(brand=brand, model=model)
                title = _clean(rng.choice(spec["titles"]).format_map(fmt))
                if title in titles_seen or (model and model in models_seen):
                    continue
                break
            else:
                raise RuntimeError(f"could not make a unique {spec['key']}")
            titles_seen.add(title)
            if model:
                models_seen.add(model)

            extra = [o["s"] for o in chosen.values() if o["s"]][:2]
            k = rng.choice([1, 2, 2, 3])
            need = max(0 if extra else 1, k - len(extra))
            pool = rng.sample(spec["text"], min(need, len(spec["text"])))
            sentences = pool[:1] + extra + pool[1:]
            text = " ".join(s.format_map(fmt) for s in sentences)

            attributes: dict[str, str] = {}
            for name, src in spec["attrs"].items():
                value = src(values) if callable(src) else values.get(src, "")
                if value:
                    attributes[name] = value
            if model:
                attributes["model"] = model
            attributes = dict(list(attributes.items())[:4])
            if len(attributes) < 2:
                raise ValueError(f"{spec['key']}: too few attributes in {title!r}")

            factor = math.prod(o["f"] for o in chosen.values())
            lo, hi = spec["price"]
            price = _pretty_price(rng, rng.uniform(lo, hi) * factor)
            rating = rng.gauss(4.2, 0.45) if rng.random() > 0.07 else rng.uniform(1.0, 3.6)
            rating = round(min(5.0, max(1.0, rating)), 1)
            in_stock = rng.random() < 0.82
            products.append(
                {
                    "type": spec["key"],
                    "slots": values,
                    "model": model,
                    "_id": "",
                    "title": title,
                    "text": text,
                    "brand": brand,
                    "category": spec["path"],
                    "price": price,
                    "rating": rating,
                    "in_stock": in_stock,
                    "attributes": attributes,
                }
            )
    rng.shuffle(products)
    for i, p in enumerate(products):
        p["_id"] = f"TS-{FIRST_ID + i:06d}"
    return products


def public(p: dict[str, Any]) -> dict[str, Any]:
    keys = ("_id", "title", "text", "brand", "category", "price", "rating", "in_stock")
    out = {k: p[k] for k in keys}
    out["attributes"] = p["attributes"]
    return out


# --------------------------------------------------------------------------------------
# Queries and relevance rules
# --------------------------------------------------------------------------------------

Rule = Callable[[dict[str, Any]], "int | None"]


def by_type(grades: dict[str, Any]) -> Rule:
    """Grade by product type; a value may be an int or a function of the product."""

    def rule(p: dict[str, Any]) -> int | None:
        g = grades.get(p["type"])
        return g(p) if callable(g) else g

    return rule


def slot(p: dict[str, Any], name: str) -> str:
    return p["slots"].get(name, "")


def has(p: dict[str, Any], name: str, *needles: str) -> bool:
    return any(n in slot(p, name) for n in needles)


def size_in(p: dict[str, Any], *sizes: str) -> bool:
    return slot(p, "size") in sizes


# Semantic queries: (text, rule, words that must not occur in any relevant product's
# title or description, so that the query really needs paraphrase understanding).
SEMANTIC: list[tuple[str, Rule, list[str]]] = [
    ("couch", by_type({"sofa": 2, "sectional": 1, "loveseat": 1}), ["couch", "couches"]),
    (
        "lamp for reading",
        by_type(
            {
                "desk_lamp": 2,
                "floor_lamp": lambda p: 2 if has(p, "style", "Swing-Arm", "Task") else None,
            }
        ),
        ["reading", "read"],
    ),
    (
        "something to keep coffee hot",
        by_type({"thermal_carafe": 2, "travel_mug": 2, "tumbler": 1}),
        ["coffee", "hot"],
    ),
    ("tv", by_type({"television": 2, "tv_stand": 0, "tv_mount": 0}), ["tv", "tvs"]),
    (
        "cordless screwdriver",
        by_type(
            {
                "impact_driver": 2,
                "drill": lambda p: 0 if has(p, "kind", "Corded") else 1,
                "screwdriver_set": 0,
            }
        ),
        ["screwdriver", "screwdrivers"],
    ),
    ("bedside table", by_type({"nightstand": 2, "end_table": 1}), ["bedside"]),
    (
        "rug for living room",
        by_type(
            {
                "area_rug": lambda p: (
                    1
                    if size_in(p, "4 ft. x 6 ft.")
                    else 2
                    if not size_in(p, "2 ft. x 3 ft.")
                    else None
                ),
                "bath_mat": 0,
            }
        ),
        ["living"],
    ),
    ("fridge", by_type({"refrigerator": 2, "beverage_cooler": 1}), ["fridge", "fridges"]),
    (
        "sneakers for running",
        by_type(
            {
                "running_shoe": lambda p: 1 if has(p, "kind", "Trail") else 2,
                "training_shoe": 1,
            }
        ),
        ["sneaker", "sneakers"],
    ),
    (
        "washing machine",
        by_type({"washer": 2, "pressure_washer": 0, "dishwasher": 0}),
        ["washing", "machine"],
    ),
    ("stove", by_type({"range": 2, "microwave": 0}), ["stove", "stoves"]),
    ("bbq for the backyard", by_type({"grill": 2}), ["bbq", "barbecue", "backyard"]),
    ("grass cutter", by_type({"lawn_mower": 2}), ["grass", "cutter"]),
    ("notebook computer", by_type({"laptop": 2, "paper_notebook": 0}), ["notebook", "computer"]),
    ("computer screen", by_type({"monitor": 2, "television": 0}), ["screen", "computer"]),
    (
        "headset to block out airplane noise",
        by_type(
            {
                "headphones": lambda p: 2 if slot(p, "anc") else 1,
                "earbuds": lambda p: 1 if slot(p, "anc") else None,
            }
        ),
        ["headset", "airplane", "block"],
    ),
    ("free weights", by_type({"dumbbells": 2, "kettlebell": 1}), ["free", "weights"]),
    (
        "bicycle for commuting to work",
        by_type(
            {
                "bike": lambda p: (
                    2
                    if has(p, "kind", "Hybrid", "City")
                    else (1 if has(p, "kind", "Road") else None)
                ),
                "exercise_bike": 0,
            }
        ),
        ["bicycle", "bicycles", "commuting", "commute", "work"],
    ),
    (
        "running machine for a home gym",
        by_type({"treadmill": lambda p: 1 if has(p, "kind", "Walking Pad") else 2}),
        ["running machine", "gym"],
    ),
    ("shelter for a camping trip", by_type({"tent": 2}), ["shelter", "camping"]),
    (
        "comfortable seat for long hours at my desk",
        by_type({"office_chair": 2}),
        ["comfortable", "hours"],
    ),
    (
        "desk that goes up and down",
        by_type({"desk": lambda p: 2 if has(p, "kind", "Standing") else None}),
        ["up and down"],
    ),
    (
        "machine to destroy old documents",
        by_type({"shredder": 2}),
        ["destroy", "documents", "machine"],
    ),
    (
        "portable charger for my phone",
        by_type({"power_bank": 2}),
        ["charger", "chargers", "phone"],
    ),
    ("window drapes", by_type({"curtains": 2}), ["drape", "drapes", "drapery"]),
    ("frying pan", by_type({"skillet": 2, "cookware_set": 1}), ["frying", "fry", "pan"]),
    ("smoothie maker", by_type({"blender": 2}), ["smoothie", "smoothies"]),
    ("boil water quickly for tea", by_type({"electric_kettle": 2}), ["boil", "tea"]),
    (
        "something warm to sleep under in winter",
        by_type(
            {
                "comforter": lambda p: 1 if has(p, "kind", "Cooling") else 2,
                "throw_blanket": 1,
            }
        ),
        ["warm", "winter"],
    ),
    (
        "soft cushion to rest my head on at night",
        by_type({"bed_pillow": 2, "throw_pillow": 0}),
        ["cushion", "head", "night"],
    ),
    (
        "overhead shower that feels like rain",
        by_type({"showerhead": lambda p: 2 if has(p, "kind", "Rainfall") else 1}),
        ["rain", "overhead"],
    ),
    (
        "automatic floor cleaner that runs on its own",
        by_type({"robot_vacuum": 2, "vacuum": 0}),
        ["automatic", "runs"],
    ),
    ("washbasin unit", by_type({"vanity": 2}), ["washbasin", "unit"]),
    (
        "big screen for watching movies",
        by_type(
            {
                "television": lambda p: (
                    2
                    if has(p, "size", "65", "75", "77", "85")
                    else (1 if has(p, "size", "50", "55") else None)
                )
            }
        ),
        ["screen", "watching", "movies"],
    ),
    (
        "lights to hang over a kitchen island",
        by_type({"pendant": 2, "chandelier": 1}),
        ["hang", "island"],
    ),
    (
        "outdoor seating for the deck",
        by_type({"patio_set": 2, "adirondack": 2}),
        ["seating", "deck"],
    ),
    (
        "power washer for the driveway",
        by_type({"pressure_washer": 2}),
        ["power washer", "driveway"],
    ),
    ("chest of drawers", by_type({"dresser": 2, "nightstand": 0, "tool_chest": 0}), ["chest"]),
    (
        "energy saving light bulbs",
        by_type({"led_bulb": 2, "string_lights": 0}),
        ["energy", "saving"],
    ),
    (
        "sofa bed for guests",
        by_type({"sofa": lambda p: 2 if has(p, "kind", "Sleeper") else None}),
        ["sofa bed", "guests", "guest"],
    ),
]


def most_common_brand(products: list[dict[str, Any]], pred: Rule) -> str:
    counts = Counter(p["brand"] for p in products if pred(p))
    if not counts:
        raise ValueError("no product matches")
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]


def lexical_queries(products: list[dict[str, Any]]) -> list[tuple[str, Rule]]:
    out: list[tuple[str, Rule]] = []
    by_id = sorted(products, key=lambda p: p["_id"])

    # Model numbers: the exact product is highly relevant; the same brand's other
    # products of the same type are somewhat relevant.
    model_types = [
        ("drill", "{model}"),
        ("refrigerator", "{brand} {model}"),
        ("television", "{model}"),
        ("impact_driver", "{model} impact driver"),
        ("washer", "{model}"),
        ("laptop", "{brand} {model}"),
        ("grill", "{model} grill"),
        ("water_heater", "{model}"),
    ]
    for ptype, fmt in model_types:
        pool = [p for p in by_id if p["type"] == ptype and p["model"] in p["title"]]
        siblings = Counter(p["brand"] for p in products if p["type"] == ptype)
        # A product whose brand has the most siblings of the same type (first by id).
        target = max(pool, key=lambda p: siblings[p["brand"]])

        def rule(p: dict[str, Any], t: dict[str, Any] = target) -> int | None:
            if p["_id"] == t["_id"]:
                return 2
            if p["type"] == t["type"] and p["brand"] == t["brand"]:
                return 1
            return None

        out.append((fmt.format(model=target["model"], brand=target["brand"]), rule))

    # Brand + product type: the brand with the most matching products is used.
    brand_types: list[tuple[str, str, Rule]] = [
        ("grill", "gas grill", lambda p: has(p, "kind", "Propane")),
        ("tumbler", "tumbler", lambda p: True),
        ("impact_driver", "impact driver", lambda p: True),
        ("headphones", "noise cancelling headphones", lambda p: bool(slot(p, "anc"))),
        ("bath_towel", "towel set", lambda p: has(p, "kind", "Towel Set")),
        ("running_shoe", "trail running shoe", lambda p: has(p, "kind", "Trail")),
        ("floor_lamp", "floor lamp", lambda p: True),
        ("refrigerator", "french door refrigerator", lambda p: has(p, "kind", "French Door")),
    ]
    for ptype, noun, sub in brand_types:
        brand = most_common_brand(products, lambda p, t=ptype, s=sub: p["type"] == t and s(p))

        def rule(p: dict[str, Any], t=ptype, s=sub, b=brand) -> int | None:
            if p["type"] != t or p["brand"] != b:
                return None
            return 2 if s(p) else 1

        out.append((f"{brand} {noun}", rule))

    # Brand names on their own, for the two smallest brands.
    counts = Counter(p["brand"] for p in products)
    small = [b for b in sorted(counts, key=lambda b: (counts[b], b)) if counts[b] >= 3]
    for brand in small[:2]:
        out.append((brand, lambda p, b=brand: 2 if p["brand"] == b else None))

    # Exact sizes and specifications.
    out += [
        (
            "3/4 in. copper pipe fitting",
            by_type(
                {
                    "copper_fitting": lambda p: 2 if size_in(p, "3/4 in.") else 0,
                    "pvc_fitting": lambda p: 0 if size_in(p, "3/4 in.") else None,
                }
            ),
        ),
    ]

    # Exact specifications of a real product (the first of its kind by id), so the
    # wording always names something the catalog carries.
    def water_heater_text(a: dict[str, Any]) -> str:
        fuel = slot(a, "kind").replace(" Tank", "").replace(" Water Heater", "").lower()
        return f"{slot(a, 'capacity').lower()} {fuel} water heater"

    def panel(a: dict[str, Any]) -> str:
        return "OLED" if has(a, "kind", "OLED") else "QLED"

    def valve_material(a: dict[str, Any]) -> str:
        return "brass" if has(a, "material", "Brass") else "stainless steel"

    Spec = tuple[str, Rule, Callable[[dict[str, Any]], str], list[str], "list[str] | None"]
    specs: list[Spec] = [
        (
            "ball_valve",
            lambda p: True,
            lambda a: f"{slot(a, 'size')} {valve_material(a)} ball valve",
            ["size", "material"],
            ["size"],
        ),
        (
            "garden_hose",
            lambda p: True,
            lambda a: f"{slot(a, 'length')} garden hose",
            ["length"],
            None,
        ),
        (
            "sheet_set",
            lambda p: slot(p, "size") in ("Queen", "King", "Full"),
            lambda a: f"{slot(a, 'size').lower()} size sheet set",
            ["size"],
            None,
        ),
        (
            "television",
            lambda p: has(p, "kind", "OLED", "QLED"),
            lambda a: f"{slot(a, 'size')} {panel(a)} television",
            ["size", "kind"],
            ["size"],
        ),
        (
            "area_rug",
            lambda p: True,
            lambda a: f"{slot(a, 'size')} {slot(a, 'material').lower()} area rug",
            ["size", "material"],
            ["size"],
        ),
        (
            "skillet",
            lambda p: has(p, "material", "Cast Iron"),
            lambda a: f"{slot(a, 'size')} cast iron skillet",
            ["size"],
            [],
        ),
        (
            "led_bulb",
            lambda p: True,
            lambda a: f"{slot(a, 'shape')} LED bulb {slot(a, 'temp').split()[-1]}",
            ["shape", "temp"],
            ["shape"],
        ),
        (
            "water_heater",
            lambda p: not has(p, "kind", "Tankless"),
            water_heater_text,
            ["capacity", "kind"],
            ["capacity"],
        ),
        (
            "mattress",
            lambda p: True,
            lambda a: f"{slot(a, 'size').lower()} {slot(a, 'kind').lower()}",
            ["size", "kind"],
            ["size"],
        ),
        (
            "ladder",
            lambda p: slot(p, "kind") == "Step Ladder",
            lambda a: f"{slot(a, 'height')} {slot(a, 'material').lower()} step ladder",
            ["height", "material"],
            ["height"],
        ),
        (
            "pens",
            lambda p: True,
            lambda a: f"{slot(a, 'kind').lower()} {slot(a, 'tip')}",
            ["kind", "tip"],
            ["kind"],
        ),
    ]
    for ptype, pred, text, exact, near in specs:
        pool = [p for p in by_id if p["type"] == ptype and pred(p)]

        def richness(a: dict[str, Any], pool=pool, ex=exact) -> int:
            return sum(all(slot(p, k) == slot(a, k) for k in ex) for p in pool)

        # The specification shared by the most products (first by id on ties).
        anchor = max(pool, key=richness)

        def spec_rule(
            p: dict[str, Any], t=ptype, pr=pred, a=anchor, ex=exact, nr=near
        ) -> int | None:
            if p["type"] != t or not pr(p):
                return None
            if all(slot(p, k) == slot(a, k) for k in ex):
                return 2
            if nr is not None and all(slot(p, k) == slot(a, k) for k in nr):
                return 1
            return None

        out.append((text(anchor), spec_rule))
    return out


def filtered_queries(products: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], Rule]]:
    drill_brand = most_common_brand(
        products, lambda p: p["type"] == "drill" and not has(p, "kind", "Corded")
    )
    hp_brand = most_common_brand(products, lambda p: p["type"] == "headphones" and p["in_stock"])
    lamps = {"floor_lamp": 2, "table_lamp": 2, "desk_lamp": 2}
    return [
        ("sofa", {"price_max": 900.0}, by_type({"sofa": 2, "loveseat": 1, "sectional": 1})),
        (
            "cordless drill",
            {"brand": drill_brand},
            by_type(
                {
                    "drill": lambda p: 0 if has(p, "kind", "Corded") else 2,
                    "impact_driver": 1,
                }
            ),
        ),
        ("lamp", {"in_stock": True, "rating_min": 4.0}, by_type(lamps)),
        ("chair", {"category": "Office"}, by_type({"office_chair": 2, "dining_chair": 0})),
        ("television", {"price_max": 500.0}, by_type({"television": 2})),
        (
            "headphones",
            {"brand": hp_brand, "in_stock": True},
            by_type({"headphones": 2, "earbuds": 1}),
        ),
        (
            "area rug",
            {"category": "Home Decor > Rugs", "price_min": 100.0, "price_max": 300.0},
            by_type({"area_rug": 2, "runner_rug": 1}),
        ),
        (
            "mattress",
            {"price_max": 1000.0, "rating_min": 4.0},
            by_type({"mattress": 2, "mattress_topper": 1}),
        ),
        ("grill", {"category": "Outdoor & Garden", "rating_min": 4.3}, by_type({"grill": 2})),
        (
            "couch",
            {"price_max": 1200.0, "in_stock": True},
            by_type({"sofa": 2, "sectional": 1, "loveseat": 1}),
        ),
        ("coffee maker", {"in_stock": True, "price_max": 150.0}, by_type({"coffee_maker": 2})),
        ("towels", {"rating_min": 4.5}, by_type({"bath_towel": 2})),
        (
            "running shoes",
            {"price_max": 120.0, "in_stock": True},
            by_type({"running_shoe": 2, "training_shoe": 1}),
        ),
        (
            "standing desk",
            {"category": "Office > Office Furniture", "price_max": 500.0},
            by_type({"desk": lambda p: 2 if has(p, "kind", "Standing") else None}),
        ),
    ]


def matches(p: dict[str, Any], filters: dict[str, Any]) -> bool:
    for key, value in filters.items():
        if key == "category":
            if p["category"] != value and not p["category"].startswith(value + " > "):
                return False
        elif key == "brand":
            if p["brand"] != value:
                return False
        elif key == "price_min":
            if p["price"] < value:
                return False
        elif key == "price_max":
            if p["price"] > value:
                return False
        elif key == "rating_min":
            if p["rating"] < value:
                return False
        elif key == "in_stock":
            if p["in_stock"] != value:
                return False
        else:
            raise KeyError(key)
    return True


def _words(s: str) -> str:
    return " " + re.sub(r"[^a-z0-9]+", " ", s.lower()) + " "


def build(
    products: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[tuple[str, str, int]]]:
    queries: list[dict[str, Any]] = []
    qrels: list[tuple[str, str, int]] = []

    def add(text: str, kind: str, rule: Rule, filters: dict[str, Any] | None = None) -> None:
        qid = f"q{len(queries) + 1:03d}"
        q: dict[str, Any] = {"_id": qid, "text": text, "kind": kind}
        if filters is not None:
            q["filters"] = filters
        rows = []
        for p in products:
            g = rule(p)
            if g is None:
                continue
            if filters is not None and not matches(p, filters):
                g = 0
            rows.append((p["_id"], g))
        rows.sort(key=lambda r: (-r[1], r[0]))
        if not any(g == 2 for _, g in rows):
            raise ValueError(f"query {text!r} has no highly relevant product")
        queries.append(q)
        qrels.extend((qid, pid, g) for pid, g in rows)

    for text, rule, avoid in SEMANTIC:
        for p in products:
            if (rule(p) or 0) > 0:
                hay = _words(p["title"] + " " + p["text"])
                for word in avoid:
                    if _words(word) in hay:
                        raise ValueError(f"{word!r} appears in {p['title']!r} ({text!r})")
        add(text, "semantic", rule)
    for text, rule in lexical_queries(products):
        add(text, "lexical", rule)
    for text, filters, rule in filtered_queries(products):
        add(text, "filtered", rule, filters)
    return queries, qrels


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args(argv)
    out: Path = args.out

    rng = random.Random(SEED)
    products = make_products(rng)
    products.sort(key=lambda p: p["_id"])
    queries, qrels = build(products)

    (out / "qrels").mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "corpus.jsonl", [public(p) for p in products])
    write_jsonl(out / "queries.jsonl", queries)
    with (out / "qrels" / "test.tsv").open("w", encoding="utf-8", newline="\n") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for qid, pid, g in qrels:
            f.write(f"{qid}\t{pid}\t{g}\n")

    kinds = Counter(q["kind"] for q in queries)
    grades = Counter(g for _, _, g in qrels)
    print(
        f"{len(products)} products, {len({p['category'].split(' > ')[0] for p in products})} "
        f"departments, {len({p['brand'] for p in products})} brands; "
        f"{len(queries)} queries {dict(sorted(kinds.items()))}; "
        f"qrels by grade {dict(sorted(grades.items()))} -> {out}"
    )


if __name__ == "__main__":
    main()
