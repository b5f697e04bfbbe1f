"""The single place that reads and writes ``HX-*`` headers (flask-htmx) and renders template fragments
(jinja2-fragments), so a full page and its partial come from one template."""

from __future__ import annotations

import json
import weakref
from typing import Any

from flask import Flask, Response, current_app, make_response, render_template
from flask_htmx import HTMX
from jinja2 import Environment, Template, nodes
from jinja2_fragments.flask import before_render_template_block, template_block_rendered

from core.web.security import http_status, local_path

htmx = HTMX()

STOP_POLLING = 286  # htmx stops polling on this status


def init_htmx(app: Flask) -> None:
    htmx.init_app(app)


def is_htmx() -> bool:
    return bool(htmx)


def is_boosted() -> bool:
    return bool(htmx) and bool(htmx.boosted)


# What a page defines at its top for all its blocks: `{% from … import … %}`, `{% import … %}` and macros. A full
# render runs them before the blocks; rendering one block alone (jinja2-fragments) would skip them, so every
# fragment runs them first, in the block's own context (``with context`` imports see what the block sees). A page
# that extends another (a site override of ``core:contacts/index.html``) gets its parents' too, and their blocks.
_PRELUDE_NODES = (nodes.Import, nodes.FromImport, nodes.Macro)
_shapes: weakref.WeakKeyDictionary[Template, tuple[Template | None, str | None]] = weakref.WeakKeyDictionary()


def _shape(env: Environment, template: Template) -> tuple[Template | None, str | None]:
    """The template's top-level imports and macros as a template of their own (``None`` when it has none) and the
    name of the template it extends; kept per loaded template, so one reloaded after an edit gets a fresh one."""
    if template in _shapes:
        return _shapes[template]
    prelude, parent = None, None
    if env.loader is not None and template.name is not None:
        source, filename, _uptodate = env.loader.get_source(env, template.name)
        tree = env.parse(source, template.name, filename)
        body = [n for n in tree.body if isinstance(n, _PRELUDE_NODES)]
        if body:
            code = env.compile(nodes.Template(body, lineno=1), template.name, filename)
            prelude = env.template_class.from_code(env, code, template.globals)
        extends = next((n for n in tree.body if isinstance(n, nodes.Extends)), None)
        if extends is not None and isinstance(extends.template, nodes.Const):
            parent = str(extends.template.value)
    _shapes[template] = (prelude, parent)
    return prelude, parent


def render_block(template_name: str, block: str, **context: Any) -> str:
    """One block of a template, seeing the template's (and its parents') top-level imports and macros and blocks
    as a full render does."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    app.update_template_context(context)
    env = app.jinja_env
    template = env.get_template(template_name)
    chain = [template]
    while (parent := _shape(env, chain[-1])[1]) is not None and len(chain) < 16:
        chain.append(env.get_template(parent))
    before_render_template_block.send(app, template_name=template_name, block_name=block, context=context)
    ctx = template.new_context(context)
    for ancestor in chain[1:]:  # as a full render does when the child extends its parent
        for name, func in ancestor.blocks.items():
            ctx.blocks.setdefault(name, []).append(func)
    if block not in ctx.blocks:
        raise LookupError(f"block {block!r} not found in {template_name!r}")
    try:
        for member in reversed(chain):  # the parents' imports first: the page's own win
            prelude = _shape(env, member)[0]
            if prelude is not None:
                for _chunk in prelude.root_render_func(ctx):  # fills ctx.vars; imports and macros write nothing
                    pass
        body: str = env.concat(ctx.blocks[block][0](ctx))  # type: ignore[attr-defined]
    except Exception:
        env.handle_exception()
        raise  # not reached: handle_exception re-raises with the template's traceback
    template_block_rendered.send(app, template_name=template_name, block_name=block, context=context)
    return body


def render(template: str, block: str | None = None, *, status: int = 200, **context: Any) -> Response:
    """Render the whole page, or only ``block`` when htmx asked (and did not boost the whole page).

    ``status`` is the HTTP status (checked by :func:`http_status`), never a template variable."""
    status = http_status(status)
    if block is not None and is_htmx() and not is_boosted():
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


def fragment(template: str, block: str, *, status: int = 200, **context: Any) -> Response:
    """Render one block of a template (a partial that only htmx requests)."""
    status = http_status(status)
    response = make_response(render_block(template, block, **context), status)
    response.vary.add("HX-Request")
    return response


def redirect(location: str) -> Response:
    """A redirect that works for both htmx (``HX-Redirect``) and plain requests; only to this site (a path built
    from a request value goes through :func:`core.web.security.local_path` first)."""
    if local_path(location) is None:
        raise ValueError(f"refusing to redirect off the site or with control characters: {location!r}")
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = location
        return response
    response = make_response("", 303)
    response.headers["Location"] = location
    return response


def trigger(response: Response, events: dict[str, Any]) -> Response:
    """Ask the browser to fire events (e.g. toasts) after the swap."""
    # headers are Latin-1 on the wire: non-ASCII text (a Russian toast) travels as JSON \u escapes
    response.headers["HX-Trigger"] = json.dumps(events, ensure_ascii=True)
    return response


def stop_polling(response: Response) -> Response:
    response.status_code = STOP_POLLING
    return response
