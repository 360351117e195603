"""HTML extractors side by side: speed and quality on real WARC pages and on generated pages.

    .venv/bin/python benchmarks/extractors.py [--warc-dir ../shared/data/warc] [--pages 300]
        [--repeats 5] [--seed 0]

For each extractor in `pipelines.clean.extract.EXTRACTORS`:
- real pages (every HTML response in the WARC files of ../shared/data/warc): characters and
  lines kept, main-text recall against a hand-made list of key phrases per page (checked by
  eye), and boilerplate phrases (navigation, footer) kept; pages/s and MB/s of HTML, the mean
  of `--repeats` passes of `--real-loops` loops over those pages;
- generated pages (seeded): article paragraphs wrapped in navigation, a sidebar, a cookie
  banner, a footer, scripts and styles; paragraph recall, boilerplate phrases kept, pages/s
  and MB/s.
With `--huge`, instead: seconds, output size and peak memory of single 5-20 MB pages (each in a
fresh process), with and without the input cap, and the cost of deep nesting.
Not a test.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
WARCS = ("cc-main-2025-33-sample.warc.gz", "example-iana.org-chunked.warc", "example.warc.gz",
         "example-wget-1-14.warc.gz")

# Hand-made reference, checked by eye against each page in a browser-like text dump: short key
# phrases of the main text, and phrases that only occur in navigation, footers or banners.
REFERENCE = {
    "example.com": {
        "main": ["Example Domain", "illustrative examples in documents", "without prior coordination",
                 "More information"],
        "boilerplate": [],
    },
    "www.commoncrawl.org": {
        "main": ["maintains a free, open repository", "non–profit founded in 2007",
                 "wholesale extraction, transformation", "Over 250 billion pages",
                 "Cited in over 10,000 research papers", "new pages added each month",
                 "Web Graph release for July 2025"],
        "boilerplate": ["Mailing List Archive", "Privacy Policy", "Terms of Use", "Common Crawl Logo",
                        "© 2025 Common Crawl", "Infra Status"],
    },
    "www.iana.org": {
        "main": ["global coordination of the DNS Root", "Management of the DNS Root Zone",
                 "Coordination of the global IP and AS", "central repository for protocol name",
                 "New Root Zone trust anchor", "Annual Customer Survey available"],
        "boilerplate": ["Root Zone Registry", "Presentations", "Excellence", "affiliate of ICANN",
                        "Abuse Information"],
    },
}


def _fix_path() -> None:
    """Run as a script, make the checkout importable (pipelines/)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def real_pages(warc_dir: Path) -> list[tuple[str, bytes, str | None]]:
    """(url, payload, charset) of every HTML response in the WARC files."""
    from pipelines.clean.readers import RawRecord, ReaderConfig, read_source

    pages = []
    for name in WARCS:
        for item in read_source(str(warc_dir / name), ReaderConfig()):
            if isinstance(item, RawRecord) and item.html is not None:
                pages.append((item.url, item.html, item.charset))
    return pages


def _host(url: str) -> str:
    """The REFERENCE key of a page: its host, with example.com and www.example.com as one."""
    host = urlsplit(url).hostname or ""
    return "example.com" if host in ("example.com", "www.example.com") else host


def quality(text: str, reference: dict) -> dict:
    lines = [line for line in text.split("\n") if line.strip()]
    main = reference["main"]
    boiler = reference["boilerplate"]
    return {"chars": len(text), "lines": len(lines),
            "recall": sum(p in text for p in main) / len(main) if main else 1.0,
            "missed": [p for p in main if p not in text],
            "boilerplate": sum(p in text for p in boiler), "boilerplate_total": len(boiler)}


def timed(extractor: str, pages: list[tuple[bytes, str | None]], repeats: int,
          loops: int) -> tuple[float, float, float]:
    """(pages/s, MB/s of HTML, relative spread): the mean over `repeats` passes of `loops` loops.

    The spread is (slowest - fastest pass) / mean pass time.
    """
    from pipelines.clean.extract import html_to_text

    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(loops):
            for payload, charset in pages:
                html_to_text(payload, charset, extractor=extractor)
        times.append(time.perf_counter() - start)
    mean = sum(times) / len(times)
    size = sum(len(p) for p, _ in pages) * loops
    return len(pages) * loops / mean, size / mean / 1e6, (max(times) - min(times)) / mean


# --- generated pages ---------------------------------------------------------------------

_SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "so", "vi", "de", "pa", "ri", "on", "el", "us", "an"]
_NAV = ["Homepage", "World News", "Sports", "Business", "Opinion", "Culture", "Science", "Travel", "Contact"]
_FOOTER = ["Privacy Policy", "Terms of Service", "Cookie Settings", "Advertise with us", "Careers"]
_PROSE_BOILERPLATE = [
    "We use cookies to improve your experience. By continuing you accept our use of cookies.",
    "Sign up for our newsletter to get the latest stories delivered to your inbox every morning.",
    "Example Media Group publishes independent reporting on science, culture and business since 1998.",
    "Copyright 2025 Example Media Group. All rights reserved.",
    "You are here: Front page / Research", "Share on Facebook", "Share on Twitter",
]
_WRAPPERS = [("<main><article>", "</article></main>"), ('<div class="content"><div class="post">', "</div></div>"),
             ('<div id="c"><div class="row"><div class="col-8">', "</div></div></div>")]


def _sentence(rng: random.Random) -> str:
    words = ["".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(6, 18))]
    return words[0].capitalize() + " " + " ".join(words[1:]) + "."


def _links(items: list[str], tag: str) -> str:
    return f"<{tag}><ul>" + "".join(f'<li><a href="/{i}">{t}</a></li>' for i, t in enumerate(items)) + f"</ul></{tag}>"


def generated_page(rng: random.Random) -> tuple[bytes, list[str], list[str]]:
    """(HTML, main paragraphs, boilerplate phrases) of one page of seeded random prose.

    The article (a headline and 1-25 paragraphs) sits in one of three wrappers, some without
    semantic tags; around it: a cookie banner, a menu (in <nav> or a plain <div>),
    breadcrumbs, share links, related-article teasers with a sentence each, a newsletter
    box, a footer with an "about" sentence, and scripts and styles of 5-50 KB.
    """
    paragraphs = [" ".join(_sentence(rng) for _ in range(rng.randint(2, 7))) for _ in range(rng.randint(1, 25))]
    teasers = [(_sentence(rng)[:-1], _sentence(rng)) for _ in range(rng.randint(3, 6))]
    cookie, newsletter, about, copyright_, crumbs, *share = _PROSE_BOILERPLATE
    boiler = [*_NAV, *_FOOTER, *_PROSE_BOILERPLATE, *(t for pair in teasers for t in pair)]
    open_, close = rng.choice(_WRAPPERS)
    script = "<script>var t=1;" + "function f(a){return a*2;}" * rng.randint(100, 1000) + "</script>"
    style = "<style>" + ".c{margin:0;padding:1px}" * rng.randint(100, 1000) + "</style>"
    menu = _links(_NAV, rng.choice(["nav", 'div class="menu"']))
    related = '<div class="related"><h3>Related</h3>' + "".join(
        f'<div class="teaser"><a href="/r/{i}">{title}</a><p>{summary}</p></div>'
        for i, (title, summary) in enumerate(teasers)) + "</div>"
    footer = (f'<footer><p>{about}</p>{_links(_FOOTER, "div")}<p>{copyright_}</p></footer>')
    title = _sentence(rng)[:-1]
    article = (open_ + f'<div class="crumbs">{crumbs}</div>' + f"<h1>{title}</h1>" +
               "".join(f"<p>{p}</p>" for p in paragraphs) +
               '<div class="share">' + "".join(f'<a href="#">{s}</a> ' for s in share) + "</div>" + close)
    html = (f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title>{style}</head>"
            f'<body><div class="cookie-banner"><p>{cookie}</p><button>Accept</button></div>'
            f"<header>{menu}</header>{article}{related}"
            f'<div class="newsletter"><p>{newsletter}</p><input type=email></div>{footer}{script}</body></html>')
    return html.encode("utf-8"), paragraphs, boiler


def generated_quality(text: str, paragraphs: list[str], boiler: list[str]) -> tuple[float, float]:
    """(fraction of paragraphs kept whole, fraction of boilerplate phrases kept)."""
    return sum(p in text for p in paragraphs) / len(paragraphs), sum(b in text for b in boiler) / len(boiler)


# --- huge and deep pages ------------------------------------------------------------------

_HUGE_UNITS = {
    "paragraphs": "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.</p>",
    "inline-tags": '<div class="c"><span>lorem ipsum</span> <a href="/x">dolor sit amet</a> text here.</div>',
    "one-line-words": "word ",
}
_HUGE_CASES = [  # (shape, MB, extractor, max_bytes: None for the default cap)
    *((shape, 5, name, None) for shape in ("paragraphs", "inline-tags")
      for name in ("resiliparse", "trafilatura")),
    ("one-line-words", 20, "resiliparse", None), ("one-line-words", 20, "resiliparse", 1 << 40),
    ("one-line-words", 20, "trafilatura", None), ("one-line-words", 20, "trafilatura", 1 << 40),
]
_HUGE_CHILD = """
import resource, sys, time
from pipelines.clean.extract import extract_html
shape, mb, name, cap, unit = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
body = unit * int(mb * 1e6 / len(unit))
page = ("<!doctype html><html><body>" + ("<p>" + body + "</p>" if shape == "one-line-words" else body)
        + "</body></html>").encode()
kwargs = {} if cap == "None" else {"max_bytes": int(cap)}
start = time.perf_counter()
result = extract_html(page, extractor=name, **kwargs)
print(time.perf_counter() - start, len(result.text), result.truncated,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""
_DEEP_CHILD = """
import sys, time
from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree
from pipelines.clean.extract import extract_html
depth = int(sys.argv[1])
page = "<html><body>" + "<div>" * depth + "<p>deep</p></body></html>"
start = time.perf_counter()
extract_plain_text(HTMLTree.parse(page), main_content=True)
raw = time.perf_counter() - start
start = time.perf_counter()
result = extract_html(page.encode())
print(raw, time.perf_counter() - start, result.too_deep)
"""


def _child(code: str, *args: str) -> list[str]:
    import subprocess

    root = str(Path(__file__).resolve().parents[1])
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=root, check=True, capture_output=True, text=True)
    return done.stdout.split()


def huge_report() -> str:
    """Each huge page in a fresh process: seconds, characters out, cut or not, peak memory."""
    out = ["| page | MB | extractor | cap | seconds | chars out | truncated | peak RSS MB |",
           "|---|---|---|---|---|---|---|---|"]
    for shape, mb, name, cap in _HUGE_CASES:
        secs, chars, truncated, rss = _child(_HUGE_CHILD, shape, str(mb), name, str(cap), _HUGE_UNITS[shape])
        out.append(f"| {shape} | {mb} | {name} | {'5 MiB' if cap is None else 'none'} | {float(secs):.2f} | "
                   f"{int(chars):,} | {truncated} | {float(rss):.0f} |")
    out += ["", "| nested <div>s | resiliparse main_content=True, s | extract_html, s | too_deep |",
            "|---|---|---|---|"]
    for depth in (255, 1000, 5000, 20000):
        raw, guarded, too_deep = _child(_DEEP_CHILD, str(depth))
        out.append(f"| {depth:,} | {float(raw):.3f} | {float(guarded):.3f} | {too_deep} |")
    return "\n".join(out)


# --- report --------------------------------------------------------------------------------

def real_report(extractors: list[str], pages: list, repeats: int, loops: int) -> str:
    from pipelines.clean.extract import html_to_text

    out = ["| extractor | page | chars | lines | main recall | boilerplate kept | missed |",
           "|---|---|---|---|---|---|---|"]
    for name in extractors:
        for url, payload, charset in pages:
            q = quality(html_to_text(payload, charset, extractor=name), REFERENCE[_host(url)])
            out.append(f"| {name} | {url} | {q['chars']:,} | {q['lines']} | {q['recall']:.2f} | "
                       f"{q['boilerplate']}/{q['boilerplate_total']} | {'; '.join(q['missed'])} |")
    out += ["", f"Speed on the {len(pages)} real pages ({sum(len(p) for _, p, _ in pages):,} bytes), "
            f"mean of {repeats} passes of {loops} loops:", "", "| extractor | pages/s | MB/s | spread |",
            "|---|---|---|---|"]
    for name in extractors:
        pps, mbps, spread = timed(name, [(p, c) for _, p, c in pages], repeats, loops)
        out.append(f"| {name} | {pps:,.0f} | {mbps:.2f} | {spread:.0%} |")
    return "\n".join(out)


def generated_report(extractors: list[str], num_pages: int, seed: int, repeats: int) -> str:
    from pipelines.clean.extract import html_to_text

    rng = random.Random(seed)
    pages = [generated_page(rng) for _ in range(num_pages)]
    size = sum(len(h) for h, _, _ in pages)
    out = [f"{num_pages} generated pages (seed {seed}), {size / 1e6:.1f} MB, "
           f"{sum(len(b) for _, _, b in pages) / num_pages:.1f} boilerplate phrases per page:", "",
           "| extractor | paragraph recall | boilerplate phrases kept | pages/s | MB/s | spread |",
           "|---|---|---|---|---|---|"]
    for name in extractors:
        recalls, kept = zip(*(generated_quality(html_to_text(h, None, extractor=name), p, b) for h, p, b in pages))
        pps, mbps, spread = timed(name, [(h, None) for h, _, _ in pages], repeats, 1)
        out.append(f"| {name} | {sum(recalls) / len(recalls):.3f} | {sum(kept) / len(kept):.3f} | "
                   f"{pps:,.0f} | {mbps:.2f} | {spread:.0%} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warc-dir", type=Path, default=DATA / "warc")
    parser.add_argument("--extractors", default="", help="comma-separated; default: all")
    parser.add_argument("--pages", type=int, default=300, help="generated pages")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--real-loops", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--huge", action="store_true", help="only the huge- and deep-page measurements")
    args = parser.parse_args(argv)
    _fix_path()
    import logging

    from pipelines.clean.extract import EXTRACTORS, check_extractor

    logging.getLogger("trafilatura").setLevel(logging.ERROR)  # "empty HTML tree" warnings
    if args.huge:
        print(huge_report())
        return 0
    names = [check_extractor(n.strip()) for n in args.extractors.split(",") if n.strip()] or list(EXTRACTORS)
    if not args.warc_dir.is_dir():
        raise FileNotFoundError(f"{args.warc_dir} is absent; pass --warc-dir with the real WARC files")
    print(real_report(names, real_pages(args.warc_dir), args.repeats, args.real_loops))
    print()
    print(generated_report(names, args.pages, args.seed, args.repeats))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
