"""A generated Common-Crawl-like WARC corpus for benchmarks/clean.py, deterministic from a seed.

    .venv/bin/python benchmarks/corpus.py --output DIR [--size-mb 200] [--seed 0] [--files N]

Writes DIR/bench-NNNNN.warc.gz (gzip per record, as Common Crawl does) and DIR/corpus.json
(what was made, by kind). Each capture is a request, a response and a metadata record; the
response carries `WARC-Identified-Payload-Type` like Common Crawl's. `--size-mb` counts the
HTTP payload bytes of the responses (uncompressed HTML), the figure MB/s is reported in.

Pages are built from a site template (navigation, sidebar, footer, inline script and style:
about 90% of a page's bytes, as on real pages) around a main text. The mix, per page index:
English articles from a stochastic grammar over word lists written for this file (no
copied text) with a Zipf-distributed vocabulary plus generated names and terms; German,
French and Spanish articles; junk (thin pages, link directories, lorem ipsum, price tables,
JavaScript walls, soft 404s, HTTP 404s); exact duplicates (the same article on another site);
near duplicates (0.5-3% of words edited, a
paragraph added or cut); Windows-1252 pages; non-HTML responses.
Page i depends only on (seed, i), so a smaller corpus is a prefix of a larger one.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from itertools import accumulate
from pathlib import Path

# --- vocabulary (common English words; the rare tail is generated) -----------------------------

FUNCTION = "the of and to a in that is was for it with as on be by at this from or an are not have but".split()
DETS = "the the the a a this that every each some many several most few these those another".split()
PREPS = "in on at from with about after before during under over between through against near across".split()
CONJS = "and but so because while although since whereas yet".split()
PRONOUNS = "it they we she he you people many others everyone nobody".split()
NOUNS = """time year people way day man woman child world life hand part place case week company system
program question work government number night point home water room mother area money story fact month
lot right study book eye job word business issue side kind head house service friend father power hour
game line end member law car city community name president team minute idea kid body information back
parent face others level office door health person art war history party result change morning reason
research girl guy moment air teacher force education foot boy age policy process music market sense
nation plan college interest death experience effect class control care field development role effort
rate heart drug show leader light voice wife police mind price report decision son view relationship
town road arm difference value building action model season society tax director position player record
paper space ground form event official matter center couple site project activity star table need court
oil situation cost industry figure street image phone data picture practice piece land product doctor
wall patient worker news test movie north love support technology step baby computer type attention film
tree source organization hair window evidence population site garden river bridge village island forest
mountain valley harbor station engine machine network signal memory software language library museum
theory method energy climate weather season harvest farmer kitchen recipe flavor bread cheese coffee
journey ticket flight hotel beach coast desert storm winter summer spring autumn planet orbit telescope
battery circuit sensor vehicle bicycle railway canal castle tower chapel temple statue painting poem novel
chapter author reader editor student lecture exam course degree campus budget profit customer supplier
contract invoice loan bank account stock fund investor tenant landlord neighbor council mayor election
vote campaign debate treaty border army soldier officer weapon peace conflict crisis disease vaccine
hospital nurse clinic therapy symptom diet exercise muscle bone brain skin blood protein gene cell species
animal bird fish horse insect plant flower seed soil rock mineral metal glass wood cotton paper fabric""".split()
VERBS = """make take give find tell call try ask need feel leave put mean keep let begin seem help show hear
play run move live believe bring happen write provide sit stand lose pay meet include continue set learn
change lead understand watch follow stop create speak read allow add spend grow open walk win offer
remember love consider appear buy wait serve die send expect build stay fall cut reach kill remain
suggest raise pass sell require report decide pull explain develop carry break receive agree support hit
produce eat cover catch draw choose cause point listen realize place close involve increase describe
measure repair visit paint count improve reduce design protect prepare collect publish test study train
launch plant travel record manage finish enjoy share compare deliver discover explore review attract""".split()
IRREGULAR = {"make": "made", "take": "took", "give": "gave", "find": "found", "tell": "told", "feel": "felt",
             "leave": "left", "put": "put", "mean": "meant", "keep": "kept", "let": "let", "begin": "began",
             "hear": "heard", "run": "ran", "bring": "brought", "write": "wrote", "sit": "sat", "stand": "stood",
             "lose": "lost", "pay": "paid", "meet": "met", "set": "set", "lead": "led", "understand": "understood",
             "speak": "spoke", "spend": "spent", "grow": "grew", "win": "won", "buy": "bought", "build": "built",
             "fall": "fell", "cut": "cut", "send": "sent", "sell": "sold", "break": "broke", "hit": "hit",
             "eat": "ate", "catch": "caught", "draw": "drew", "choose": "chose", "die": "died", "read": "read"}
ADJECTIVES = """good new first last long great little own other old right big high different small large next
early young important few public bad same able local sure free better true whole clear recent certain
personal open red difficult available likely short single medical current wrong private past foreign
fine common poor natural significant similar hot dead central happy serious ready simple left physical
general environmental financial blue democratic dark various entire close legal religious cold final main
green nice huge popular traditional cultural quiet narrow wide deep shallow bright heavy light rapid slow
ancient modern rural urban coastal northern southern eastern western annual weekly daily careful strange
famous rare useful expensive cheap fresh warm dry wet smooth rough empty full broken hidden official""".split()
ADVERBS = """also just very often still however well even really almost already usually quickly slowly
finally probably simply recently nearly clearly rather quite perhaps together certainly directly
especially carefully suddenly eventually largely mostly""".split()
FOREIGN = {
    "de": ("der die das und ist nicht ein eine mit auf für von zu den dem sich des auch es im wird sind".split(),
           """Zeit Jahr Stadt Haus Arbeit Leben Welt Land Kind Frau Mann Schule Wasser Geld Buch Straße Markt
           Regierung Geschichte Familie Wetter Bahnhof Brücke Garten Kirche Zeitung Bericht Entwicklung Frage
           macht sagt geht kommt steht findet zeigt bleibt bringt beginnt arbeitet schreibt liest spielt wohnt
           groß klein neu alt gut lang schnell langsam wichtig schön einfach schwer richtig heute immer""".split()),
    "fr": ("le la les et est pas un une avec sur pour de du des à en au qui que dans ce il elle nous".split(),
           """temps année ville maison travail vie monde pays enfant femme homme école eau argent livre rue
           marché gouvernement histoire famille gare pont jardin église journal rapport question semaine
           fait dit va vient trouve montre reste apporte commence travaille écrit lit joue habite pense
           grand petit nouveau vieux bon long rapide lent important beau simple difficile toujours souvent""".split()),
    "es": ("el la los las y es no un una con sobre para de del en al que por se lo su como más pero".split(),
           """tiempo año ciudad casa trabajo vida mundo país niño mujer hombre escuela agua dinero libro calle
           mercado gobierno historia familia estación puente jardín iglesia periódico informe pregunta semana
           hace dice va viene encuentra muestra queda trae empieza trabaja escribe lee juega vive piensa
           grande pequeño nuevo viejo bueno largo rápido lento importante bonito fácil difícil siempre""".split()),
}
LOREM = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore".split()
SYLLABLES = "ka ri mo ten sal ver an dor lin be tra col mar fen os qui pel zan hu gro bri nel".split()
_MONTHS = "January February March April May June July August September October November December".split()

# The mix of page kinds, as cumulative shares of 1000 (see the module docstring).
KINDS = (("english", 650), ("foreign", 90), ("junk", 90), ("exact_duplicate", 60), ("near_duplicate", 60),
         ("cp1252", 20), ("not_html", 30))


def zipf_weights(n: int, s: float = 1.0) -> list[float]:
    return list(accumulate(1.0 / (rank + 1) ** s for rank in range(n)))


@dataclass(frozen=True, kw_only=True)
class Vocabulary:
    nouns: list[str]
    names: list[str]
    terms: list[str]
    noun_w: list[float]
    name_w: list[float]
    term_w: list[float]


def make_vocabulary(seed: int) -> Vocabulary:
    """Common nouns plus a generated Zipfian tail of names and terms (a realistic vocabulary size)."""
    rng = random.Random(f"{seed}:vocabulary")
    def coin(k: int) -> str:
        return "".join(rng.choice(SYLLABLES) for _ in range(k))
    names = sorted({coin(rng.randint(2, 3)).capitalize() for _ in range(6000)})
    terms = sorted({coin(rng.randint(2, 4)) for _ in range(20000)})
    rng.shuffle(names)
    rng.shuffle(terms)
    return Vocabulary(nouns=NOUNS, names=names, terms=terms, noun_w=zipf_weights(len(NOUNS)),
                      name_w=zipf_weights(len(names)), term_w=zipf_weights(len(terms)))


# --- text ----------------------------------------------------------------------------------------

def past(verb: str) -> str:
    if verb in IRREGULAR:
        return IRREGULAR[verb]
    return verb + ("d" if verb.endswith("e") else "ed")


def plural(noun: str) -> str:
    if noun in ("species", "news", "data", "people", "police", "information", "evidence"):
        return noun
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")


def noun_phrase(rng: random.Random, vocab: Vocabulary) -> str:
    roll = rng.random()
    if roll < 0.12:
        return rng.choices(vocab.names, cum_weights=vocab.name_w)[0]
    noun = rng.choices(vocab.nouns, cum_weights=vocab.noun_w)[0]
    if roll < 0.25:
        noun = f"{rng.choices(vocab.terms, cum_weights=vocab.term_w)[0]} {noun}"
    if rng.random() < 0.4:
        noun = f"{rng.choice(ADJECTIVES)} {noun}"
    if rng.random() < 0.3:
        return f"{rng.choice(('the', 'many', 'several', 'some', 'two', 'three')) } {plural(noun)}"
    return f"{rng.choice(DETS)} {noun}"


def clause(rng: random.Random, vocab: Vocabulary) -> str:
    subject = rng.choice(PRONOUNS) if rng.random() < 0.25 else noun_phrase(rng, vocab)
    verb = rng.choice(VERBS)
    form = rng.random()
    if form < 0.5:
        verb = past(verb)
    elif form < 0.7:
        verb = f"{rng.choice(('will', 'could', 'should', 'may', 'would', 'did not'))} {verb}"
    else:
        verb = f"{rng.choice(('has', 'had'))} {past(verb)}"
    parts = [subject, verb, noun_phrase(rng, vocab)]
    if rng.random() < 0.5:
        parts += [rng.choice(PREPS), noun_phrase(rng, vocab)]
    if rng.random() < 0.2:
        parts.insert(2 if rng.random() < 0.5 else len(parts), rng.choice(ADVERBS))
    return " ".join(parts)


def sentence(rng: random.Random, vocab: Vocabulary) -> str:
    text = clause(rng, vocab)
    if rng.random() < 0.35:
        text += f", {rng.choice(CONJS)} {clause(rng, vocab)}"
    if rng.random() < 0.1:
        text = f"In {rng.randint(1890, 2025)}, {text}"
    return text[0].upper() + text[1:] + rng.choice(".........!?")


def paragraph(rng: random.Random, vocab: Vocabulary) -> str:
    return " ".join(sentence(rng, vocab) for _ in range(rng.randint(2, 9)))


def foreign_paragraph(rng: random.Random, lang: str) -> str:
    function, content = FOREIGN[lang]
    sentences = []
    for _ in range(rng.randint(2, 7)):
        words = [rng.choice(function) if rng.random() < 0.45 else rng.choice(content)
                 for _ in range(rng.randint(6, 18))]
        sentences.append(" ".join(words).capitalize() + ".")
    return " ".join(sentences)


def article_paragraphs(rng: random.Random, vocab: Vocabulary) -> list[str]:
    """A log-normal number of paragraphs: median about 9 (about 3 KB), a long tail to 150."""
    count = min(150, max(1, int(rng.lognormvariate(2.2, 0.8))))
    return [paragraph(rng, vocab) for _ in range(count)]


# --- pages ---------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Site:
    host: str
    title: str
    nav: str
    sidebar: str
    footer: str
    head: str


def make_site(rng: random.Random, vocab: Vocabulary, index: int) -> Site:
    name = rng.choice(vocab.names)
    host = f"www.{name.lower()}{index}.example"
    sections = [rng.choice(vocab.nouns).capitalize() for _ in range(rng.randint(8, 25))]
    nav = "".join(f'<li class="nav-item"><a class="nav-link" href="/{s.lower()}/">{s}</a></li>' for s in sections)
    related = "".join(f'<li><a href="/{rng.choice(vocab.terms)}-{rng.randint(1, 9999)}.html">'
                      f'{noun_phrase(rng, vocab).capitalize()}</a></li>' for _ in range(rng.randint(5, 20)))
    script = ";".join(f"function f{i}(a,b){{var x{i}=a*{rng.randint(2, 99)}+b;return x{i}>>{rng.randint(1, 7)}}}"
                      for i in range(rng.randint(100, 600)))
    style = "".join(f".c{i}{{margin:{rng.randint(0, 40)}px;color:#{rng.randrange(1 << 24):06x}}}"
                    for i in range(rng.randint(100, 500)))
    head = (f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="stylesheet" href="/static/site.css"><style>{style}</style><script>{script}</script>')
    footer = (f'<footer class="site-footer"><p>Copyright {rng.randint(2005, 2025)} {name} Media. All rights reserved.</p>'
              '<ul><li><a href="/privacy">Privacy Policy</a></li><li><a href="/terms">Terms of Use</a></li>'
              '<li><a href="/cookies">Cookie settings</a></li><li><a href="/contact">Contact us</a></li></ul>'
              '<p>This website uses cookies to improve your experience.</p></footer>')
    return Site(host=host, title=f"{name} {rng.choice(('News', 'Journal', 'Blog', 'Review', 'Daily'))}",
                nav=f'<nav class="main-nav"><ul>{nav}</ul></nav>', footer=footer, head=head,
                sidebar=f'<aside class="sidebar"><h3>Related articles</h3><ul>{related}</ul></aside>')


def render(site: Site, title: str, body_html: str, lang: str, charset: str, rng: random.Random) -> str:
    tracking = json.dumps({"page": rng.getrandbits(64), "tags": [rng.getrandbits(32) for _ in range(40)]})
    date = f"{rng.choice(_MONTHS)} {rng.randint(1, 28)}, {rng.randint(2010, 2025)}"
    return (f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="{charset}"><title>{title} | {site.title}'
            f'</title>{site.head}</head><body><header class="site-header"><a class="logo" href="/">{site.title}'
            f'</a>{site.nav}</header><div class="container"><main><article><h1>{title}</h1>'
            f'<p class="byline">By {rng.choice(_MONTHS)} staff, {date}</p>{body_html}</article></main>'
            f'{site.sidebar}</div>{site.footer}<script type="application/json">{tracking}</script></body></html>')


def paragraphs_html(paragraphs: list[str], rng: random.Random) -> str:
    out = []
    for i, p in enumerate(paragraphs):
        if i and i % 6 == 0 and rng.random() < 0.5:
            out.append(f"<h2>{p.split('.')[0][:60]}</h2>")
        out.append(f"<p>{p}</p>")
    return "".join(out)


def junk_body(rng: random.Random, vocab: Vocabulary) -> tuple[str, str]:
    kind = rng.randrange(6)
    if kind == 0:
        return "Short note", f"<p>{sentence(rng, vocab)}</p>"
    if kind == 1:
        links = "".join(f'<li><a href="/d/{rng.choice(vocab.terms)}">{rng.choice(vocab.names)}</a></li>'
                        for _ in range(rng.randint(50, 200)))
        return "Directory", f"<ul>{links}</ul>"
    if kind == 2:
        return "Lorem ipsum", "".join(f"<p>{' '.join(rng.choice(LOREM) for _ in range(60))}.</p>" for _ in range(5))
    if kind == 3:
        rows = "".join(f"<tr><td>SKU-{rng.randint(10000, 99999)}</td><td>${rng.randint(1, 999)}.{rng.randint(0, 99):02d}"
                       f"</td><td>{rng.randint(0, 500)}</td></tr>" for _ in range(rng.randint(40, 200)))
        return "Price list", f"<table>{rows}</table>"
    if kind == 4:
        return "Loading", "<p>Please enable JavaScript to view this page.</p><noscript>JavaScript is required.</noscript>"
    return "Page not found", "<p>Sorry, the page you are looking for does not exist.</p><p>Error 404</p>"


@dataclass(frozen=True, kw_only=True)
class Page:
    kind: str
    url: str
    status: str
    content_type: str
    payload: bytes


def kind_of(rng: random.Random) -> str:
    roll = rng.randrange(1000)
    for kind, upto in accumulate(KINDS, lambda acc, k: (k[0], acc[1] + k[1])):
        if roll < upto:
            return kind
    return "english"


def make_page(seed: int, index: int, vocab: Vocabulary, sites: list[Site]) -> Page:
    """Page `index` of the corpus; duplicates copy the English article of an earlier page."""
    rng = random.Random(f"{seed}:page:{index}")
    kind = kind_of(rng) if index >= 20 else "english"
    site = sites[min(len(sites) - 1, int(rng.paretovariate(1.1)) - 1)]
    url = f"https://{site.host}/{rng.choice(vocab.terms)}/{index}.html"
    status, lang, charset = "200 OK", "en", "utf-8"
    if kind == "not_html":
        blob = random.Random(f"{seed}:blob:{index}").randbytes(rng.randint(2000, 60000))
        mime = rng.choice(("image/jpeg", "image/png", "application/pdf"))
        return Page(kind=kind, url=url.replace(".html", "." + mime.split("/")[1]), status=status,
                    content_type=mime, payload=blob)
    if kind in ("exact_duplicate", "near_duplicate"):
        source = random.Random(f"{seed}:source:{index}").randrange(index)
        title, paragraphs = english_article(seed, source, vocab)
        if kind == "near_duplicate":
            paragraphs = near_copy(paragraphs, rng, vocab)
    elif kind == "foreign":
        lang = rng.choice(sorted(FOREIGN))
        title = foreign_paragraph(rng, lang).split(".")[0][:60]
        paragraphs = [foreign_paragraph(rng, lang) for _ in range(rng.randint(3, 20))]
    elif kind == "junk":
        title, body = junk_body(rng, vocab)
        if title == "Page not found" and rng.random() < 0.5:
            status = "404 Not Found"
        html = render(site, title, body, lang, charset, rng)
        return Page(kind=kind, url=url, status=status, content_type="text/html; charset=utf-8",
                    payload=html.encode("utf-8"))
    else:
        title, paragraphs = english_article(seed, index, vocab)
        if kind == "cp1252":
            charset = "windows-1252"
            paragraphs = [p.replace(" the ", " the café ", 1).replace(" a ", " a naïve ", 1) for p in paragraphs]
    html = render(site, title, paragraphs_html(paragraphs, rng), lang, charset, rng)
    return Page(kind=kind, url=url, status=status, content_type=f"text/html; charset={charset}",
                payload=html.encode("cp1252" if charset == "windows-1252" else "utf-8"))


def english_article(seed: int, index: int, vocab: Vocabulary) -> tuple[str, list[str]]:
    rng = random.Random(f"{seed}:article:{index}")
    title = sentence(rng, vocab).rstrip(".!?")[:80]
    return title, article_paragraphs(rng, vocab)


def near_copy(paragraphs: list[str], rng: random.Random, vocab: Vocabulary) -> list[str]:
    """Word edits of 0.5-3% (5-gram Jaccard about 0.75-0.97), sometimes a paragraph added or cut."""
    out = edit_words(paragraphs, rng.uniform(0.005, 0.03), rng, vocab)
    roll = rng.random()
    if roll < 0.25:
        out.append(f"Updated on {rng.choice(_MONTHS)} {rng.randint(1, 28)}: {sentence(rng, vocab)}")
    elif roll < 0.4 and len(out) > 4:
        out.pop(rng.randrange(len(out)))
    return out


def edit_words(paragraphs: list[str], fraction: float, rng: random.Random, vocab: Vocabulary) -> list[str]:
    """Replace about `fraction` of the words with others (a near duplicate)."""
    out = []
    for p in paragraphs:
        words = p.split(" ")
        for i in range(len(words)):
            if rng.random() < fraction:
                words[i] = rng.choices(vocab.terms, cum_weights=vocab.term_w)[0]
        out.append(" ".join(words))
    return out


# --- WARC ----------------------------------------------------------------------------------------

def warc_record(warc_type: str, url: str, date: str, record_id: str, block: bytes, content_type: str,
                extra: dict[str, str] | None = None) -> bytes:
    headers = {"WARC-Type": warc_type, "WARC-Record-ID": f"<urn:uuid:{record_id}>", "WARC-Date": date,
               "WARC-Target-URI": url, **(extra or {}), "Content-Type": content_type,
               "Content-Length": str(len(block))}
    head = "WARC/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    return gzip.compress(head.encode("utf-8") + block + b"\r\n\r\n", compresslevel=6, mtime=0)


def capture_records(page: Page, index: int, seed: int, start: datetime) -> bytes:
    rng = random.Random(f"{seed}:ids:{index}")
    ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(3)]
    date = (start + timedelta(seconds=index * 7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    host = page.url.split("/")[2]
    request = f"GET /{page.url.split('/', 3)[3]} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: bench-crawler/1.0\r\n\r\n"
    http = (f"HTTP/1.1 {page.status}\r\nContent-Type: {page.content_type}\r\n"
            f"Content-Length: {len(page.payload)}\r\nServer: bench\r\n\r\n").encode("ascii") + page.payload
    mime = page.content_type.split(";")[0]
    digest = hashlib.sha1(page.payload).hexdigest()
    return b"".join([
        warc_record("request", page.url, date, ids[0], request.encode("ascii"), "application/http; msgtype=request"),
        warc_record("response", page.url, date, ids[1], http, "application/http; msgtype=response",
                    {"WARC-Identified-Payload-Type": mime, "WARC-Payload-Digest": f"sha1:{digest}"}),
        warc_record("metadata", page.url, date, ids[2], f"fetchTimeMs: {rng.randint(50, 900)}\r\n".encode(),
                    "application/warc-fields", {"WARC-Concurrent-To": f"<urn:uuid:{ids[1]}>"}),
    ])


def generate(output: Path, size_mb: float, seed: int = 0, files: int | None = None) -> dict:
    """Write the corpus; returns (and writes as corpus.json) its summary."""
    target = int(size_mb * (1 << 20))
    num_files = files or max(4, -(-target // (16 << 20)))
    output.mkdir(parents=True, exist_ok=True)
    vocab = make_vocabulary(seed)
    site_rng = random.Random(f"{seed}:sites")
    sites = [make_site(site_rng, vocab, i) for i in range(300)]
    start = datetime(2025, 8, 1, tzinfo=timezone.utc)
    outs = [open(output / f"bench-{i:05d}.warc.gz", "wb") for i in range(num_files)]
    kinds: dict[str, int] = {}
    payload_bytes = index = 0
    try:
        while payload_bytes < target:
            page = make_page(seed, index, vocab, sites)
            outs[index % num_files].write(capture_records(page, index, seed, start))
            kinds[page.kind] = kinds.get(page.kind, 0) + 1
            payload_bytes += len(page.payload)
            index += 1
    finally:
        for f in outs:
            f.close()
    summary = {"seed": seed, "files": num_files, "pages": index, "payload_bytes": payload_bytes,
               "html_pages": index - kinds.get("not_html", 0),
               "gzip_bytes": sum(p.stat().st_size for p in output.glob("bench-*.warc.gz")), "kinds": kinds}
    (output / "corpus.json").write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
    return summary


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", required=True, type=Path, help="folder to write the WARC files into")
    parser.add_argument("--size-mb", type=float, default=200.0, help="uncompressed HTTP payload MiB (default 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--files", type=int, default=None, help="number of WARC files (default: one per 16 MiB, at least 4)")
    args = parser.parse_args(argv)
    summary = generate(args.output, args.size_mb, args.seed, args.files)
    print(json.dumps(summary, sort_keys=True))
    return summary


if __name__ == "__main__":
    main()
