"""What htmx would request from a page: a small HTML tree and the request each ``hx-get``/``hx-post`` element
sends (values, ``HX-Target``, headers), modelled on htmx 2's rules so a test can make the same requests."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
VERBS = ("get", "post")


@dataclass(eq=False)
class Element:
    tag: str
    attrs: dict[str, str]
    parent: Element | None = None
    children: list[Element] = field(default_factory=list)
    text: str = ""

    def walk(self):  # type: ignore[no-untyped-def]
        yield self
        for child in self.children:
            yield from child.walk()

    def ancestors(self):  # type: ignore[no-untyped-def]
        node: Element | None = self
        while node is not None:
            yield node
            node = node.parent

    def inherited(self, name: str) -> tuple[str, Element] | None:
        for node in self.ancestors():
            if name in node.attrs:
                return node.attrs[name], node
        return None

    def closest(self, tag: str) -> Element | None:
        return next((n for n in self.ancestors() if n.tag == tag), None)


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Element(tag, {k: v or "" for k, v in attrs}, self.stack[-1])
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Element(tag, {k: v or "" for k, v in attrs}, self.stack[-1])
        self.stack[-1].children.append(node)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].text += data


def parse(html: str) -> Element:
    tree = _Tree()
    tree.feed(html)
    tree.close()
    return tree.root


def by_id(root: Element, ident: str) -> Element | None:
    return next((n for n in root.walk() if n.attrs.get("id") == ident), None)


def field_values(node: Element) -> list[tuple[str, str]]:
    """The name/value pairs a browser submits for an input, select or textarea (or every one inside a form)."""
    if node.tag == "form":
        pairs: list[tuple[str, str]] = []
        for child in node.walk():
            if child is not node and child.tag in ("input", "select", "textarea"):
                pairs += field_values(child)
        return pairs
    name = node.attrs.get("name")
    if not name or "disabled" in node.attrs:
        return []
    if node.tag == "input":
        kind = node.attrs.get("type", "text")
        if kind in ("checkbox", "radio") and "checked" not in node.attrs:
            return []
        if kind in ("submit", "button", "file", "image", "reset"):
            return []
        return [(name, node.attrs.get("value", "on" if kind in ("checkbox", "radio") else ""))]
    if node.tag == "textarea":
        return [(name, node.text)]
    if node.tag == "select":
        options = [n for n in node.walk() if n.tag == "option"]
        chosen = [o for o in options if "selected" in o.attrs] or options[:1]
        if "multiple" in node.attrs:
            chosen = [o for o in options if "selected" in o.attrs]
        return [(name, o.attrs.get("value", o.text.strip())) for o in chosen]
    return []


@dataclass(frozen=True)
class HtmxRequest:
    method: str
    url: str
    data: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]
    source: str  # the element's opening tag, for messages

    @property
    def target(self) -> str | None:
        return dict(self.headers).get("HX-Target")

    def describe(self) -> str:
        return f"{self.method} {self.url} data={list(self.data)} target={self.target} (from {self.source[:160]})"


def _target(element: Element, holder_of_verb: Element) -> Element | None:
    spec = element.inherited("hx-target")
    if spec is None:
        return holder_of_verb
    value, holder = spec
    value = value.strip()
    if value == "this":
        return holder
    if value.startswith("#"):
        root = element
        while root.parent is not None:
            root = root.parent
        return by_id(root, value[1:]) or Element("div", {"id": value[1:]})
    if value.startswith("closest "):
        tag = value.split(None, 1)[1].strip()
        return element.closest(tag)
    return None


def _included(element: Element, spec: str) -> list[tuple[str, str]]:
    root = element
    while root.parent is not None:
        root = root.parent
    pairs: list[tuple[str, str]] = []
    for part in spec.split(","):
        part = part.strip()
        node = element if part == "this" else (by_id(root, part[1:]) if part.startswith("#") else None)
        if part.startswith("closest "):
            node = element.closest(part.split(None, 1)[1].strip())
        if node is not None:
            pairs += field_values(node)
    return pairs


def _filter_params(pairs: list[tuple[str, str]], spec: str | None) -> list[tuple[str, str]]:
    if spec is None or spec.strip() == "*":
        return pairs
    spec = spec.strip()
    if spec == "none":
        return []
    if spec.startswith("not "):
        excluded = {p.strip() for p in spec[4:].split(",")}
        return [(k, v) for k, v in pairs if k not in excluded]
    allowed = {p.strip() for p in spec.split(",")}
    return [(k, v) for k, v in pairs if k in allowed]


def requests_of(html: str, page_url: str, inherited: dict[str, str] | None = None) -> list[tuple[HtmxRequest, Element]]:
    """Every request an ``hx-get``/``hx-post`` element of ``html`` makes, as htmx 2 builds it. ``inherited``: the
    ``hx-headers`` of the page a fragment is swapped into (its ``<body>``'s CSRF token), which the fragment's own
    elements inherit in the browser."""
    root = parse(html)
    found = []
    for element in root.walk():
        for verb in VERBS:
            url = element.attrs.get(f"hx-{verb}")
            if url is None:
                continue
            if verb == "get":
                pairs = field_values(element) if element.tag in ("form", "input", "select", "textarea") else []
            else:
                form = element if element.tag == "form" else element.closest("form")
                pairs = field_values(form) if form is not None else field_values(element)
                if element.tag == "form":  # submitted with its first named button, whose value goes along
                    button = next((n for n in element.walk() if n.tag == "button" and n.attrs.get("name")
                                   and n.attrs.get("type", "submit") == "submit"), None)
                    if button is not None:
                        pairs.append((button.attrs["name"], button.attrs.get("value", "")))
            include = element.inherited("hx-include")
            if include is not None:
                pairs += [p for p in _included(include[1] if include[0] == "this" else element, include[0])
                          if p not in pairs]
            vals = element.attrs.get("hx-vals")
            if vals:
                pairs += [(k, str(v)) for k, v in json.loads(vals).items()]
            params = element.inherited("hx-params")
            pairs = _filter_params(pairs, params[0] if params else None)
            headers: dict[str, str] = {"HX-Request": "true", "HX-Current-URL": page_url, **(inherited or {})}
            for node in reversed(list(element.ancestors())):
                if "hx-headers" in node.attrs:
                    headers.update(json.loads(node.attrs["hx-headers"]))
            target = _target(element, element)
            if target is not None and target.attrs.get("id"):
                headers["HX-Target"] = target.attrs["id"]
            if element.attrs.get("id"):
                headers["HX-Trigger"] = element.attrs["id"]
            tag = "<" + element.tag + "".join(f' {k}="{v}"' for k, v in element.attrs.items()) + ">"
            found.append((HtmxRequest(verb.upper(), url, tuple(pairs), tuple(sorted(headers.items())), tag),
                          element))
    return found


def with_values(request: HtmxRequest, replace: dict[str, str]) -> HtmxRequest:
    """The same request with some fields set to other values (what the user typed)."""
    data = tuple((k, replace.get(k, v)) for k, v in request.data)
    return HtmxRequest(request.method, request.url, data, request.headers, request.source)


def as_get_url(request: HtmxRequest) -> str:
    """The URL htmx requests for a GET: its values appended to the query string."""
    if not request.data:
        return request.url
    joiner = "&" if urlsplit(request.url).query else "?"
    return request.url + joiner + urlencode(list(request.data))


def page_headers(html: str) -> dict[str, str]:
    """The ``hx-headers`` a whole page's ``<body>`` gives every request made from it and from its fragments."""
    body = next((n for n in parse(html).walk() if n.tag == "body"), None)
    return json.loads(body.attrs["hx-headers"]) if body is not None and "hx-headers" in body.attrs else {}
