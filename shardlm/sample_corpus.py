"""The demo's sample corpus: synthetic English pages about an invented countryside.

Pure generation: `generate(config)` returns the bytes of a `.warc.gz` and a `.jsonl`
(and what was planted in them); `write(folder, config)` only stores them. The same
seed gives the same bytes. The prose is built from templates and word lists in this
file, about a fixed world of towns, rivers and markets, so the facts repeat across
pages regularly enough for a tiny BERT to learn something in a hundred steps.

Planted on purpose, for `shardlm clean` to find: HTML boilerplate (nav, header,
aside, footer) around each article; request, metadata and warcinfo records; two
non-HTML responses; exact duplicate pages under other URLs; junk pages (a few words,
or mostly symbols and numbers).
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

WARC_NAME = "sample.warc.gz"
JSONL_NAME = "sample.jsonl"
START_DATE = datetime(2024, 3, 1, tzinfo=timezone.utc)

TOWN_HEADS = ("Bram", "Ash", "Wil", "Thorn", "Mar", "Ell", "Cor", "Hal", "Dun", "Fen", "Gil", "Kes",
              "Lor", "Nor", "Pen", "Rad", "Sel", "Tam", "Ver", "Wyn", "Oak", "Elm", "Briar", "Stan")
TOWN_TAILS = ("ford", "ton", "by", "wick", "stead", "mere", "field", "holm", "dale", "bury")
RIVER_HEADS = ("Al", "Bren", "Col", "Dar", "Es", "Fal", "Gar", "Hol", "Ket", "Lin", "Mor", "Tav")
RIVER_TAILS = ("der", "wen", "ley", "more", "ain", "ith")
PRODUCTS = ("wool", "cheese", "honey", "fruit", "timber", "pottery", "salt", "bread", "cider",
            "leather", "glass", "rope", "iron", "linen", "barley", "fish")
CROPS = ("wheat", "barley", "oats", "beans", "potatoes", "cabbages", "pears", "plums", "turnips")
PROFESSIONS = ("baker", "miller", "smith", "weaver", "potter", "teacher", "doctor", "farmer",
               "carpenter", "fisher", "merchant", "brewer")
NAMES = ("Anna", "Tom", "Clara", "Peter", "Maria", "John", "Ruth", "Hugo", "Ida", "Otto", "Lena",
         "Paul", "Nora", "Felix", "Greta", "Simon", "Alice", "Jonas", "Emma", "Karl", "Rosa", "Ben")
ANIMALS = ("deer", "foxes", "owls", "hares", "herons", "otters", "badgers", "swans", "geese")
MATERIALS = ("stone", "oak", "brick", "iron", "timber")
SEASONS = ("spring", "summer", "autumn", "winter")
DIRECTIONS = ("north", "south", "east", "west")
OPPOSITE = {"north": "south", "south": "north", "east": "west", "west": "east"}
COLOURS = ("red", "white", "grey", "yellow", "blue", "green")
FESTIVALS = ("lanterns", "bells", "flowers", "music", "kites", "boats", "bread", "masks")
WEATHER = ("The morning was cold and clear.", "It rained for most of the day.",
           "The sun was warm on the road.", "A thick fog lay over the fields.",
           "The wind blew hard from the hills.")
NAV = ("Home", "Towns", "Rivers", "Markets", "Travel", "About us", "Contact")
SITES = {"town": "valley-gazette.example", "river": "river-atlas.example",
         "diary": "travel-notes.example", "market": "market-reports.example"}
SYMBOL_BITS = ("##", "$$", "%%", "&&", "@@", "++", "==", "||", "~~", "<<", ">>", "**", "//")


@dataclass(frozen=True, kw_only=True)
class CorpusConfig:
    """How much to generate; about 1.4 MB of WARC HTML and 0.3 MB of JSONL at the defaults."""

    seed: int = 0
    num_towns: int = 48
    num_rivers: int = 14
    num_warc_pages: int = 600
    num_jsonl_docs: int = 300
    num_junk: int = 6  # per kind (short, symbols) and per file


@dataclass(frozen=True, kw_only=True)
class Town:
    name: str
    river: str
    product: str
    crop: str
    animal: str
    mayor: str
    profession: str
    neighbour: str
    direction: str
    season: str
    festival: str
    material: str
    colour: str
    population: int
    founded: int


@dataclass(frozen=True, kw_only=True)
class World:
    towns: tuple[Town, ...]
    rivers: tuple[str, ...]
    hills: dict[str, str]


@dataclass(frozen=True, kw_only=True)
class Page:
    """One document before it is wrapped: a title and paragraphs of sentences."""

    url: str
    title: str
    paragraphs: tuple[tuple[str, ...], ...]

    @property
    def text(self) -> str:
        return "\n\n".join(" ".join(p) for p in (((self.title,),) + self.paragraphs))


@dataclass(frozen=True, kw_only=True)
class SampleCorpus:
    warc: bytes
    jsonl: bytes
    planted: dict[str, list[str]] = field(default_factory=dict)


def rng_for(seed: int, purpose: str) -> random.Random:
    """An explicit generator seeded from (seed, purpose); never the global one."""
    return random.Random(f"shardlm-sample/{seed}/{purpose}")


def build_world(config: CorpusConfig) -> World:
    rng = rng_for(config.seed, "world")
    names = sorted({h + t for h in TOWN_HEADS for t in TOWN_TAILS})
    town_names = rng.sample(names, config.num_towns)
    rivers = tuple(rng.sample(sorted({h + t for h in RIVER_HEADS for t in RIVER_TAILS}), config.num_rivers))
    towns = tuple(
        Town(name=name, river=rivers[i % len(rivers)], product=rng.choice(PRODUCTS), crop=rng.choice(CROPS),
             animal=rng.choice(ANIMALS), mayor=rng.choice(NAMES), profession=rng.choice(PROFESSIONS),
             neighbour=town_names[(i + 1) % len(town_names)], direction=rng.choice(DIRECTIONS),
             season=rng.choice(SEASONS), festival=rng.choice(FESTIVALS), material=rng.choice(MATERIALS),
             colour=rng.choice(COLOURS), population=rng.randrange(8, 400) * 100, founded=rng.randrange(900, 1800))
        for i, name in enumerate(town_names))
    hills = {r: f"{rng.choice(TOWN_HEADS)}more" for r in rivers}
    return World(towns=towns, rivers=rivers, hills=hills)


def town_facts(t: Town, rng: random.Random) -> list[str]:
    """Sentences stating a town's facts, each in one of a few fixed phrasings."""
    options = [
        (f"The river {t.river} flows through the town of {t.name}.",
         f"{t.name} is a town on the river {t.river}."),
        (f"{t.name} is known for its {t.product} market.",
         f"The {t.product} market of {t.name} is famous in the whole valley."),
        (f"The farmers of {t.name} grow {t.crop} in the fields near the {t.river}.",
         f"In the fields around {t.name} the farmers grow {t.crop}."),
        (f"Many {t.animal} live in the woods around {t.name}.",
         f"In the woods near {t.name} you can see {t.animal}."),
        (f"The mayor of {t.name} is a {t.profession} named {t.mayor}.",
         f"{t.mayor} the {t.profession} is the mayor of {t.name}."),
        (f"{t.name} lies {t.direction} of {t.neighbour}.",
         f"The road from {t.neighbour} to {t.name} goes {t.direction}."),
        (f"Every {t.season} the town holds a festival of {t.festival}.",
         f"The festival of {t.festival} in {t.name} takes place every {t.season}."),
        (f"The old bridge over the {t.river} is made of {t.material}.",
         f"People cross the {t.river} on an old {t.material} bridge."),
        (f"Most houses in {t.name} are painted {t.colour}.",
         f"The houses of {t.name} have {t.colour} walls."),
        (f"About {t.population} people live in {t.name}.",
         f"{t.name} has about {t.population} people."),
        (f"The town was founded in the year {t.founded}.",
         f"{t.name} was founded in {t.founded}."),
    ]
    return [rng.choice(pair) for pair in options]


def _paragraphs(sentences: list[str], rng: random.Random) -> tuple[tuple[str, ...], ...]:
    out, i = [], 0
    while i < len(sentences):
        n = rng.randint(2, 4)
        out.append(tuple(sentences[i:i + n]))
        i += n
    return tuple(out)


def town_page(world: World, rng: random.Random, n: int) -> Page:
    t = rng.choice(world.towns)
    facts = town_facts(t, rng)
    rest = facts[1:]
    rng.shuffle(rest)
    sentences = [facts[0]] + rest
    sentences += [f"Visitors to {t.name} often buy {t.product} and {t.crop} at the market.",
                  f"From {t.name} it is a short walk {OPPOSITE[t.direction]} to {t.neighbour}."]
    slug = t.name.lower()
    return Page(url=f"https://{SITES['town']}/towns/{slug}-{n}.html", title=f"The town of {t.name}",
                paragraphs=_paragraphs(sentences, rng))


def river_page(world: World, rng: random.Random, n: int) -> Page:
    river = rng.choice(world.rivers)
    towns = [t for t in world.towns if t.river == river]
    hill = world.hills[river]
    sentences = [f"The {river} is a river in the valley.",
                 f"It rises in the {hill} Hills and flows {rng.choice(DIRECTIONS)} to the sea.",
                 f"The river {river} flows through the towns of {', '.join(t.name for t in towns)}."]
    for t in towns:
        sentences += [f"At {t.name} the {river} is crossed by an old {t.material} bridge.",
                      f"The water near {t.name} is home to many {t.animal}."]
    sentences.append(f"Fishers on the {river} catch trout in {rng.choice(SEASONS)}.")
    return Page(url=f"https://{SITES['river']}/rivers/{river.lower()}-{n}.html", title=f"The river {river}",
                paragraphs=_paragraphs(sentences, rng))


def diary_page(world: World, rng: random.Random, n: int) -> Page:
    t = rng.choice(world.towns)
    route = [t]
    for _ in range(rng.randint(2, 4)):
        route.append(next(x for x in world.towns if x.name == route[-1].neighbour))
    sentences = [f"I set out from {t.name} in the {t.season}."]
    for day, (a, b) in enumerate(zip(route, route[1:]), start=1):
        sentences += [f"On day {day} I walked from {a.name} to {b.name}.", rng.choice(WEATHER),
                      f"In {b.name} I saw the {b.colour} houses and the {b.product} market.",
                      f"A {b.profession} named {b.mayor} told me that {b.name} was founded in {b.founded}.",
                      f"That night I ate {b.crop} and bread by the river {b.river}."]
    return Page(url=f"https://{SITES['diary']}/diary/{t.name.lower()}-{n}.html",
                title=f"Walking from {t.name} to {route[-1].name}", paragraphs=_paragraphs(sentences, rng))


def market_page(world: World, rng: random.Random, n: int) -> Page:
    product = rng.choice(PRODUCTS)
    towns = [t for t in world.towns if t.product == product] or [rng.choice(world.towns)]
    sentences = [f"This week the {product} markets of the valley were busy."]
    for t in towns:
        price = rng.randint(2, 40)
        sentences += [f"At the {product} market in {t.name} the price was {price} coins.",
                      f"Traders came from {t.neighbour} to buy {product} in {t.name}."]
    sentences.append(f"The next market day for {product} is in the {rng.choice(SEASONS)}.")
    return Page(url=f"https://{SITES['market']}/markets/{product}-{n}.html",
                title=f"The {product} market report", paragraphs=_paragraphs(sentences, rng))


PAGE_KINDS = (town_page, town_page, river_page, diary_page, market_page)


def make_pages(world: World, count: int, seed: int, purpose: str) -> list[Page]:
    """`count` pages with distinct texts (only planted duplicates may repeat a text)."""
    rng = rng_for(seed, purpose)
    pages: list[Page] = []
    seen: set[str] = set()
    while len(pages) < count:
        page = rng.choice(PAGE_KINDS)(world, rng, len(pages))
        if page.text not in seen:
            seen.add(page.text)
            pages.append(page)
    return pages


def junk_texts(seed: int, purpose: str, count: int) -> list[str]:
    """`count` very short texts and `count` texts that are mostly symbols and numbers."""
    rng = rng_for(seed, purpose)
    short = [f"{rng.choice(('Coming soon', 'Page not found', 'Click here', 'Loading', 'Under construction'))} #{i}"
             for i in range(count)]
    noisy = [" ".join(rng.choice(SYMBOL_BITS) + str(rng.randrange(10000)) for _ in range(rng.randint(60, 120)))
             for _ in range(count)]
    return short + noisy


def fill_mask_example(config: CorpusConfig) -> tuple[str, str]:
    """A corpus sentence with one word replaced by `{mask}`, and that word."""
    town = build_world(config).towns[0]
    return f"The river {town.river} flows through the {{mask}} of {town.name}.", "town"


# ---- wrapping pages: HTML, WARC, JSONL ------------------------------------------------


def page_html(page: Page, site: str) -> str:
    """The page as a site would serve it: the article inside nav, header, aside and footer."""
    nav = "".join(f'<li><a href="/{item.lower().replace(" ", "-")}">{item}</a></li>' for item in NAV)
    body = "".join(f"<p>{html.escape(' '.join(p))}</p>" for p in page.paragraphs)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(page.title)} | {site}</title></head>\n<body>\n"
            f"<nav><ul>{nav}</ul></nav>\n<header><div class=\"logo\">{site}</div>"
            "<form><input type=\"search\" placeholder=\"Search\"></form></header>\n"
            f"<main><article><h1>{html.escape(page.title)}</h1>\n{body}\n</article></main>\n"
            "<aside><h3>Newsletter</h3><p>Sign up for our newsletter. Share this page.</p></aside>\n"
            f"<footer><p>Copyright 2024 {site}. All rights reserved.</p>"
            "<p>Privacy policy | Terms of use | Cookie settings</p></footer>\n</body></html>\n")


def junk_html(text: str) -> str:
    return f"<!DOCTYPE html>\n<html><head><title>-</title></head><body><p>{html.escape(text)}</p></body></html>\n"


class _Warc:
    """A WARCWriter with deterministic record ids and dates (warcio would use uuid4 and now())."""

    def __init__(self, seed: int):
        self.out = io.BytesIO()
        self.writer = WARCWriter(self.out, gzip=True)
        self.seed = seed
        self.count = 0

    def _headers(self) -> dict[str, str]:
        digest = hashlib.sha256(f"{self.seed}/{self.count}".encode()).digest()[:16]
        date = START_DATE + timedelta(seconds=37 * self.count)
        self.count += 1
        return {"WARC-Record-ID": f"<urn:uuid:{uuid.UUID(bytes=digest, version=4)}>",
                "WARC-Date": date.strftime("%Y-%m-%dT%H:%M:%SZ")}

    def write(self, uri: str, record_type: str, payload: bytes, *, http_headers=None, content_type: str = ""):
        record = self.writer.create_warc_record(
            uri, record_type, payload=io.BytesIO(payload), length=len(payload),
            warc_headers_dict=self._headers(), http_headers=http_headers, warc_content_type=content_type)
        self.writer.write_record(record)

    def response(self, uri: str, body: bytes, content_type: str) -> None:
        headers = StatusAndHeaders("200 OK", [("Content-Type", content_type),
                                              ("Content-Length", str(len(body)))], protocol="HTTP/1.1")
        self.write(uri, "response", body, http_headers=headers)

    def request(self, uri: str) -> None:
        host = uri.split("/")[2]
        path = "/" + uri.split("/", 3)[3]
        headers = StatusAndHeaders(f"GET {path} HTTP/1.1", [("Host", host), ("User-Agent", "shardlm-sample/0.1")],
                                   is_http_request=True)
        self.write(uri, "request", b"", http_headers=headers)

    def metadata(self, uri: str, fetch_ms: int) -> None:
        self.write(uri, "metadata", f"fetchTimeMs: {fetch_ms}\r\n".encode(), content_type="application/warc-fields")


def build_warc(world: World, config: CorpusConfig) -> tuple[bytes, dict[str, list[str]]]:
    rng = rng_for(config.seed, "warc-layout")
    pages = make_pages(world, config.num_warc_pages, config.seed, "warc-pages")
    warc = _Warc(config.seed)
    warc.write("", "warcinfo", b"software: shardlm sample_corpus\r\nformat: WARC File Format 1.0\r\n",
               content_type="application/warc-fields")
    planted: dict[str, list[str]] = {"warc_duplicates": [], "warc_junk": [], "warc_non_html": []}
    html_type = "text/html; charset=utf-8"
    for i, page in enumerate(pages):
        site = page.url.split("/")[2]
        if i % 10 == 0:
            warc.request(page.url)
        warc.response(page.url, page_html(page, site).encode("utf-8"), html_type)
        if i % 25 == 0:
            warc.metadata(page.url, rng.randrange(20, 900))
    for j, source in enumerate((pages[3], pages[7])):  # exact duplicates: the same bytes under a mirror URL
        url = f"https://mirror.example/copy/{j}/{source.url.split('/')[-1]}"
        warc.response(url, page_html(source, source.url.split("/")[2]).encode("utf-8"), html_type)
        planted["warc_duplicates"].append(f"{url} = {source.url}")
    for j, text in enumerate(junk_texts(config.seed, "warc-junk", config.num_junk)):
        url = f"https://junk.example/page-{j}.html"
        warc.response(url, junk_html(text).encode("utf-8"), html_type)
        planted["warc_junk"].append(url)
    png = b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(256) for _ in range(512))
    pdf = b"%PDF-1.4\n" + bytes(rng.randrange(256) for _ in range(512)) + b"\n%%EOF\n"
    for url, body, ctype in (("https://valley-gazette.example/logo.png", png, "image/png"),
                             ("https://valley-gazette.example/report.pdf", pdf, "application/pdf")):
        warc.response(url, body, ctype)
        planted["warc_non_html"].append(url)
    return warc.out.getvalue(), planted


def build_jsonl(world: World, config: CorpusConfig) -> tuple[bytes, dict[str, list[str]]]:
    pages = make_pages(world, config.num_jsonl_docs, config.seed, "jsonl-pages")
    records = [{"url": p.url.replace(".html", ".txt"), "text": p.text} for p in pages]
    dup = {"url": "https://mirror.example/copy/text/" + records[5]["url"].split("/")[-1],
           "text": records[5]["text"]}
    junk = [{"url": f"https://junk.example/text-{j}.txt", "text": text}
            for j, text in enumerate(junk_texts(config.seed, "jsonl-junk", config.num_junk))]
    records += [dup] + junk
    lines = [json.dumps(r, ensure_ascii=False, sort_keys=True) for r in records]
    planted = {"jsonl_duplicates": [f"{dup['url']} = {records[5]['url']}"],
               "jsonl_junk": [r["url"] for r in junk]}
    return ("\n".join(lines) + "\n").encode("utf-8"), planted


def generate(config: CorpusConfig | None = None) -> SampleCorpus:
    """The corpus for `config` (default seed 0); the same config gives the same bytes."""
    config = config or CorpusConfig()
    world = build_world(config)
    warc, planted = build_warc(world, config)
    jsonl, planted_jsonl = build_jsonl(world, config)
    return SampleCorpus(warc=warc, jsonl=jsonl, planted={**planted, **planted_jsonl})


def write(folder: str | Path, config: CorpusConfig | None = None) -> dict[str, str]:
    """Write `sample.warc.gz` and `sample.jsonl` into `folder`; returns {"warc": path, "jsonl": path}."""
    corpus = generate(config)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / WARC_NAME).write_bytes(corpus.warc)
    (folder / JSONL_NAME).write_bytes(corpus.jsonl)
    return {"warc": str(folder / WARC_NAME), "jsonl": str(folder / JSONL_NAME)}
