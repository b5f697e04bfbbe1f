"""One unit of work per request, for every blueprint (pages, the JSON API, plugins' views).

Services never commit. After the view has answered, a successful response (below 400: a page, a redirect after a
POST, a 201 or 204) commits the request's writes; a failed one (4xx, 5xx, an exception) rolls them back. A commit
that fails (a unique key caught only at commit) becomes a 500 and is rolled back, so nobody is told "saved" when
nothing was. A streamed body (CSV and vCard exports) is produced after this point and only reads; whatever the
view wrote before streaming is committed first. A view that must keep a record of a refusal (the audit line of a
denied request, a failed sign-in) commits that explicitly after rolling back the rest. A request that wrote
nothing (most pages) is not committed: the session's teardown ends its transaction, without first expiring the
hundreds of objects a list loaded (which is what a commit does).
"""

from __future__ import annotations

from flask import Flask, Response

from core.db import db, nothing_written


def finish(response: Response) -> Response:
    if response.status_code >= 400:
        db.session.rollback()
    elif nothing_written(db.session()):
        pass
    elif response.is_streamed:
        # the body is produced after the request's session has closed, from what the view loaded (the user, the
        # list's query): those objects keep their loaded values instead of being expired by the commit
        session = db.session()
        session.expire_on_commit = False
        try:
            session.commit()
        finally:
            session.expire_on_commit = True
    else:
        db.session.commit()
    return response


def init_transactions(app: Flask) -> None:
    app.after_request(finish)
