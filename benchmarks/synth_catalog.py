"""A seeded synthetic product catalog of any size, with queries, for the scale benchmarks.

    python benchmarks/synth_catalog.py --size 1000000 --out /tmp/synth-1m.jsonl \
        [--queries /tmp/synth-queries.jsonl --num-queries 500] [--seed 0]

Products look like a general-merchandise marketplace: 10 departments, 60 product types,
each with the attributes shoppers filter on (material, colour, size, power, capacity...),
brands made per department, a model number, a price drawn around the type's typical price
(log-normal), a rating, stock, and a description of 1-3 sentences built from the product's
own attributes and the type's selling points. Titles vary in shape the way real feeds do
("Brand Series 20V Cordless Drill Kit, Black" / "Cordless Drill - 20V - Brand"). The same
seed gives the same catalog, byte for byte, at any size: product i depends only on (seed, i).

Queries are what shoppers type: a type with zero to two attributes or a brand, sometimes
misspelt or in other words ("couch" for a sofa), drawn with their own seed.

Nothing written here is committed: the files are derived data (see the README).
"""

# ruff: noqa: SIM905  (word lists read best as one string)
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

COLOURS = (
    "Black White Gray Silver Red Blue Navy Green Olive Beige Brown Walnut Oak Espresso "
    "Charcoal Ivory Teal Yellow Orange Pink Purple Bronze Copper Brushed-Nickel Chrome"
).split()
MATERIALS = {
    "furniture": "Oak Pine Walnut Metal Velvet Linen Leather Rattan Marble Glass".split(),
    "kitchen": "Stainless-Steel Cast-Iron Ceramic Nonstick Copper Glass Bamboo".split(),
    "apparel": "Cotton Wool Polyester Denim Leather Linen Fleece Nylon".split(),
    "tools": "Steel Aluminum Fiberglass Titanium Carbide".split(),
    "outdoor": "Aluminum Teak Resin Wicker Steel Polyester".split(),
    "home": "Cotton Wool Jute Ceramic Glass Polyester Microfiber".split(),
    "bath": "Porcelain Brass Cotton Teak Quartz Stainless-Steel".split(),
}
SIZES = ["Small", "Medium", "Large", "XL", "Compact", "Mini", "Full-Size"]

# department -> (material family, [(type, synonyms (comma-separated), base price, attributes,
# selling points)])
DEPARTMENTS: dict[str, tuple[str, list[tuple[str, str, float, str, str]]]] = {
    "Furniture": (
        "furniture",
        [
            (
                "Sofa",
                "couch,settee",
                900,
                "width colour material seats",
                "deep seats;removable cushion covers;kiln-dried frame",
            ),
            (
                "Sectional Sofa",
                "l-shaped couch",
                1600,
                "width colour material seats",
                "reversible chaise;modular pieces",
            ),
            (
                "Dining Table",
                "kitchen table",
                650,
                "width material seats shape",
                "seats the whole family;scratch-resistant top",
            ),
            (
                "Office Chair",
                "desk chair",
                240,
                "colour material feature",
                "lumbar support;adjustable arms;360-degree swivel",
            ),
            (
                "Bookshelf",
                "bookcase,shelving unit",
                180,
                "height material shelves",
                "adjustable shelves;anti-tip kit",
            ),
            (
                "Bed Frame",
                "platform bed",
                520,
                "bedsize material colour",
                "no box spring needed;under-bed storage",
            ),
            (
                "Nightstand",
                "bedside table",
                140,
                "material colour drawers",
                "soft-close drawer;cable cutout",
            ),
            (
                "TV Stand",
                "media console,entertainment center",
                260,
                "width material colour",
                "cable management;fits TVs up to 75 in.",
            ),
        ],
    ),
    "Kitchen": (
        "kitchen",
        [
            (
                "Frying Pan",
                "skillet,saute pan",
                45,
                "diameter material feature",
                "oven safe to 500F;even heating;induction ready",
            ),
            (
                "Stock Pot",
                "soup pot",
                60,
                "capacity material feature",
                "tight-fitting lid;dishwasher safe",
            ),
            (
                "Chef Knife",
                "kitchen knife,cook's knife",
                70,
                "length material feature",
                "full tang;razor-sharp edge",
            ),
            (
                "Blender",
                "smoothie maker",
                120,
                "power capacity colour",
                "crushes ice;pulse function;BPA-free jar",
            ),
            (
                "Coffee Maker",
                "coffee machine,drip brewer",
                95,
                "capacity colour feature",
                "programmable timer;keep-warm plate",
            ),
            (
                "Toaster",
                "bread toaster",
                45,
                "slots colour feature",
                "bagel setting;extra-wide slots",
            ),
            (
                "Air Fryer",
                "oil-free fryer",
                110,
                "capacity power colour",
                "rapid air circulation;nonstick basket",
            ),
            (
                "Cutting Board",
                "chopping board",
                30,
                "size material feature",
                "juice groove;non-slip feet",
            ),
        ],
    ),
    "Tools": (
        "tools",
        [
            (
                "Cordless Drill",
                "drill driver,power drill",
                130,
                "voltage feature kit",
                "2-speed gearbox;LED work light;brushless motor",
            ),
            (
                "Impact Driver",
                "impact drill",
                150,
                "voltage feature kit",
                "3-speed;hex chuck;compact head",
            ),
            (
                "Circular Saw",
                "skill saw",
                170,
                "blade voltage feature",
                "bevel capacity 56 degrees;electric brake",
            ),
            (
                "Hammer",
                "claw hammer",
                25,
                "weight material feature",
                "anti-vibration grip;magnetic nail starter",
            ),
            (
                "Tape Measure",
                "measuring tape",
                18,
                "length feature",
                "25 ft. standout;magnetic hook",
            ),
            (
                "Socket Set",
                "ratchet set,wrench set",
                90,
                "pieces material feature",
                "chrome vanadium;blow-molded case",
            ),
            (
                "Ladder",
                "step ladder,extension ladder",
                160,
                "height material rating",
                "slip-resistant steps;tool tray",
            ),
            (
                "Wet/Dry Vacuum",
                "shop vac",
                120,
                "capacity power feature",
                "blower port;cartridge filter",
            ),
        ],
    ),
    "Outdoor": (
        "outdoor",
        [
            (
                "Patio Set",
                "outdoor dining set",
                700,
                "pieces material colour",
                "weather-resistant;cushions included",
            ),
            (
                "Gas Grill",
                "bbq,propane grill",
                450,
                "burners colour feature",
                "side burner;porcelain grates",
            ),
            (
                "Lawn Mower",
                "grass cutter",
                380,
                "deck power feature",
                "mulch/bag/side discharge;self-propelled",
            ),
            (
                "Garden Hose",
                "water hose",
                40,
                "length material feature",
                "kink-free;brass fittings",
            ),
            (
                "Leaf Blower",
                "yard blower",
                150,
                "voltage power feature",
                "variable speed;lightweight",
            ),
            (
                "Patio Umbrella",
                "market umbrella,sun shade",
                120,
                "width material colour",
                "crank lift;tilt",
            ),
        ],
    ),
    "Bedding": (
        "home",
        [
            (
                "Comforter Set",
                "duvet set,quilt set",
                110,
                "bedsize colour material",
                "hypoallergenic fill;machine washable",
            ),
            (
                "Sheet Set",
                "bed sheets",
                60,
                "bedsize colour material",
                "deep pockets;wrinkle resistant",
            ),
            (
                "Pillow",
                "bed pillow",
                35,
                "size material feature",
                "cooling gel;shredded memory foam",
            ),
            (
                "Mattress",
                "memory foam mattress",
                650,
                "bedsize thickness feature",
                "medium-firm feel;100-night trial",
            ),
            ("Throw Blanket", "throw", 40, "size colour material", "ultra-soft;fringe edges"),
        ],
    ),
    "Lighting": (
        "home",
        [
            (
                "Floor Lamp",
                "standing lamp",
                90,
                "height colour feature",
                "3-way switch;linen shade",
            ),
            (
                "Table Lamp",
                "desk lamp,bedside lamp",
                55,
                "height colour feature",
                "USB charging port;dimmable",
            ),
            (
                "Pendant Light",
                "hanging light",
                130,
                "width colour feature",
                "adjustable cord;dimmable",
            ),
            ("LED Bulb", "light bulb", 12, "wattage colortemp pack", "dimmable;lasts 15,000 hours"),
            (
                "Ceiling Fan",
                "fan with light",
                220,
                "width colour feature",
                "reversible motor;remote control",
            ),
        ],
    ),
    "Apparel": (
        "apparel",
        [
            (
                "Running Shoes",
                "sneakers,trainers",
                95,
                "shoesize colour feature",
                "breathable mesh;cushioned sole",
            ),
            (
                "Rain Jacket",
                "raincoat,waterproof jacket",
                120,
                "clothsize colour material",
                "sealed seams;packable hood",
            ),
            (
                "Hoodie",
                "sweatshirt",
                50,
                "clothsize colour material",
                "kangaroo pocket;brushed interior",
            ),
            ("Jeans", "denim pants", 60, "waist colour fit", "stretch denim;five pockets"),
            (
                "Backpack",
                "rucksack,daypack",
                70,
                "capacity colour material",
                "padded laptop sleeve;water-resistant",
            ),
            ("Dress", "sundress", 65, "clothsize colour material", "pockets;adjustable straps"),
        ],
    ),
    "Electronics": (
        "tools",
        [
            (
                "Wireless Headphones",
                "bluetooth headphones,headset",
                150,
                "colour feature battery",
                "active noise cancelling;fast charging",
            ),
            (
                "Bluetooth Speaker",
                "portable speaker",
                80,
                "colour feature battery",
                "waterproof IPX7;stereo pairing",
            ),
            (
                "Laptop",
                "notebook computer",
                900,
                "screen memory storage",
                "backlit keyboard;all-day battery",
            ),
            (
                "Monitor",
                "computer screen,display",
                280,
                "screen resolution feature",
                "IPS panel;adjustable stand",
            ),
            (
                "Smart Plug",
                "wifi outlet",
                20,
                "pack feature",
                "works with voice assistants;energy monitoring",
            ),
            (
                "Power Bank",
                "portable charger",
                40,
                "battery colour feature",
                "USB-C PD;charges two devices",
            ),
        ],
    ),
    "Bath": (
        "bath",
        [
            (
                "Shower Head",
                "rain shower",
                60,
                "diameter colour feature",
                "5 spray settings;anti-clog nozzles",
            ),
            (
                "Bathroom Faucet",
                "sink faucet,lavatory faucet",
                110,
                "colour feature handles",
                "drip-free ceramic disc;drain included",
            ),
            ("Towel Set", "bath towels", 45, "pieces colour material", "quick dry;600 GSM"),
            (
                "Vanity",
                "bathroom vanity cabinet",
                550,
                "width colour material",
                "soft-close doors;quartz top",
            ),
            ("Toilet", "commode", 300, "colour feature height", "dual flush;comfort height"),
        ],
    ),
    "Pets": (
        "home",
        [
            ("Dog Bed", "pet bed", 55, "size colour material", "orthopedic foam;washable cover"),
            (
                "Cat Tree",
                "cat tower",
                90,
                "height colour feature",
                "sisal scratching posts;hideaway condo",
            ),
            (
                "Dog Leash",
                "lead",
                20,
                "length colour material",
                "padded handle;reflective stitching",
            ),
            (
                "Pet Feeder",
                "automatic feeder",
                70,
                "capacity feature colour",
                "timed meals;voice recorder",
            ),
        ],
    ),
}

ATTRIBUTE_VALUES: dict[str, list[str]] = {
    "width": ["24 in.", "30 in.", "36 in.", "48 in.", "60 in.", "72 in.", "84 in.", "96 in."],
    "height": ["3 ft.", "4 ft.", "5 ft.", "6 ft.", "8 ft.", "58 in.", "71 in."],
    "seats": ["2-Seat", "3-Seat", "4-Seat", "6-Seat", "8-Seat"],
    "shape": ["Round", "Rectangular", "Square", "Oval"],
    "feature": [
        "Adjustable",
        "Foldable",
        "Heavy Duty",
        "Ergonomic",
        "Smart",
        "Waterproof",
        "Quick-Release",
        "Soft-Close",
        "Rechargeable",
        "Eco-Friendly",
        "Pro",
    ],
    "shelves": ["3-Shelf", "4-Shelf", "5-Shelf"],
    "bedsize": ["Twin", "Full", "Queen", "King", "California King"],
    "drawers": ["1-Drawer", "2-Drawer", "3-Drawer"],
    "diameter": ["8 in.", "10 in.", "12 in.", "14 in."],
    "capacity": ["1 qt.", "2 qt.", "5 qt.", "8 qt.", "12 qt.", "20 L", "30 L", "5 gal.", "16 gal."],
    "length": ["6 in.", "8 in.", "10 in.", "25 ft.", "50 ft.", "100 ft.", "4 ft.", "6 ft."],
    "power": ["600W", "900W", "1200W", "1500W", "5.5 HP", "6.5 Peak HP", "40V"],
    "slots": ["2-Slice", "4-Slice"],
    "size": SIZES,
    "voltage": ["12V", "18V", "20V MAX", "40V", "60V"],
    "kit": ["Tool Only", "Kit with 2 Batteries", "Kit with Charger and Bag"],
    "blade": ["6-1/2 in.", "7-1/4 in.", "10 in."],
    "weight": ["16 oz.", "20 oz.", "22 oz."],
    "pieces": ["3-Piece", "5-Piece", "7-Piece", "40-Piece", "108-Piece"],
    "rating": ["225 lb.", "250 lb.", "300 lb."],
    "burners": ["2-Burner", "3-Burner", "4-Burner", "5-Burner"],
    "deck": ["21 in.", "22 in.", "30 in."],
    "thickness": ["8 in.", "10 in.", "12 in.", "14 in."],
    "wattage": ["40W Equivalent", "60W Equivalent", "100W Equivalent"],
    "colortemp": ["Soft White", "Daylight", "Bright White"],
    "pack": ["1-Pack", "2-Pack", "4-Pack", "12-Pack"],
    "shoesize": ["Size 7", "Size 8", "Size 9", "Size 10", "Size 11", "Size 12"],
    "clothsize": ["XS", "S", "M", "L", "XL", "XXL"],
    "waist": ["30W x 30L", "32W x 32L", "34W x 32L", "36W x 34L"],
    "fit": ["Slim Fit", "Straight Fit", "Relaxed Fit"],
    "battery": ["20-Hour Battery", "30-Hour Battery", "10000mAh", "20000mAh"],
    "screen": ['14"', '15.6"', '24"', '27"', '32"'],
    "memory": ["8GB RAM", "16GB RAM", "32GB RAM"],
    "storage": ["256GB SSD", "512GB SSD", "1TB SSD"],
    "resolution": ["1080p", "1440p", "4K UHD"],
    "handles": ["Single-Handle", "Two-Handle"],
}

SYLLABLES = (
    "ar bel cor dan el fen gar hal ion jun kes lor mar nov or pax quin ros sol tev ul "
    "vor wex yan zel bri cas dor fal gren hol ix kor lum mer nor pri rav sen tor vel".split()
)
SERIES = (
    "Pro Max Elite Classic Essentials Signature Heritage Urban Nova Summit Aspen Harbor "
    "Metro Vista Prime Select Studio Loft Coastal Ridge".split()
)
USES = ("everyday use", "small spaces", "the whole family", "professionals", "gifting")
MISSPELL = {
    "sofa": "sopha",
    "drill": "dril",
    "cordless": "cordles",
    "blender": "blendr",
    "mattress": "matress",
    "headphones": "headphons",
    "vacuum": "vaccum",
    "faucet": "facet",
    "ladder": "later",
    "umbrella": "umbrela",
}


def _brand(department: str, k: int) -> str:
    r = random.Random(f"brand:{department}:{k}")
    name = "".join(r.choice(SYLLABLES) for _ in range(r.choice((2, 2, 3))))
    return name.capitalize() + r.choice(("", "", " Home", " Co.", " Works", " Living", "tek"))


BRANDS = {d: [_brand(d, k) for k in range(40)] for d in DEPARTMENTS}
TYPES = [
    (department, family, *spec)
    for department, (family, specs) in DEPARTMENTS.items()
    for spec in specs
]


def _attribute(r: random.Random, name: str, family: str) -> str:
    if name == "colour":
        return r.choice(COLOURS).replace("-", " ")
    if name == "material":
        return r.choice(MATERIALS[family]).replace("-", " ")
    return r.choice(ATTRIBUTE_VALUES[name])


def product(seed: int, i: int) -> dict[str, object]:
    """Product number i of the catalog of this seed (independent of every other product)."""
    r = random.Random(seed * 1_000_003 + i)
    department, family, kind, synonyms, base, attrs, points = r.choice(TYPES)
    brand = r.choice(BRANDS[department][: r.choice((5, 15, 40))])  # a few big brands
    values = {name: _attribute(r, name, family) for name in attrs.split()}
    series = r.choice(SERIES) if r.random() < 0.6 else ""
    model = (
        f"{r.choice('ABCDEFGHJKMNPRSTVX')}{r.choice('ABCDEFGHJKMNPRSTVX')}-{r.randint(100, 9999)}"
    )
    shown = [v for n, v in values.items() if n not in ("colour",)]
    r.shuffle(shown)
    lead = " ".join(shown[: r.randint(1, min(3, len(shown)))])
    colour = values.get("colour", "")
    shape = r.random()
    if shape < 0.45:
        title = f"{brand} {series} {lead} {kind}" + (f" in {colour}" if colour else "")
    elif shape < 0.75:
        title = f"{brand} {lead} {kind}, {series + ' ' if series else ''}{colour or model}"
    else:
        title = f"{lead} {kind} - {brand} {model}" + (f" - {colour}" if colour else "")
    title = " ".join(title.replace(" ,", ",").split())
    selling = points.split(";")
    r.shuffle(selling)
    sentences = [
        f"The {brand} {kind.lower()} {r.choice(('features', 'offers', 'comes with'))} "
        f"{' and '.join(selling[: r.randint(1, len(selling))])}.",
        f"Made of {values['material'].lower()}." if "material" in values else "",
        f"Perfect as a {r.choice(synonyms.split(','))} for {r.choice(USES)}.",
    ]
    description = " ".join(s for s in sentences[: r.randint(1, 3)] if s)
    price = round(base * r.lognormvariate(0, 0.45), 2)
    return {
        "id": f"SYN-{i:08d}",
        "title": title,
        "description": description,
        "brand": brand,
        "category": f"{department} > {kind}",
        "price": max(price, 1.0),
        "rating": round(min(5.0, max(1.0, r.gauss(4.1, 0.6))), 1),
        "in_stock": r.random() < 0.9,
        "attributes": {k: v for k, v in values.items()},
    }


def query(seed: int, i: int) -> str:
    """Query number i: a type (or a synonym), zero to two attributes, sometimes a brand or
    a typo."""
    r = random.Random(f"query:{seed}:{i}")
    department, family, kind, synonyms, _, attrs, _ = r.choice(TYPES)
    noun = kind.lower() if r.random() < 0.7 else r.choice(synonyms.split(","))
    words = [_attribute(r, a, family).lower() for a in r.sample(attrs.split(), r.randint(0, 2))]
    if r.random() < 0.15:
        words.insert(0, r.choice(BRANDS[department][:5]).lower())
    text = " ".join([*words, noun])
    if r.random() < 0.1:
        text = " ".join(MISSPELL.get(w, w) for w in text.split())
    return text


def write_catalog(path: Path, size: int, seed: int) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for i in range(size):
            fh.write(json.dumps(product(seed, i), ensure_ascii=False) + "\n")


def write_queries(path: Path, count: int, seed: int) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for i in range(count):
            fh.write(json.dumps({"_id": f"q{i}", "text": query(seed, i)}) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, required=True, help="products")
    parser.add_argument("--out", type=Path, required=True, help="catalog file (.jsonl)")
    parser.add_argument("--queries", type=Path, help="also write this many queries here")
    parser.add_argument("--num-queries", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    write_catalog(args.out, args.size, args.seed)
    if args.queries:
        write_queries(args.queries, args.num_queries, args.seed)
    print(f"wrote {args.size} products to {args.out} in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
