"""Files on the timeline: upload, download, preview of images and PDFs, hostile names and types."""

from __future__ import annotations

import io
import re
import secrets
import unicodedata
from urllib.parse import quote, unquote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from werkzeug.http import parse_options_header

from core.db import db, unit_of_work
from core.models import Attachment, User
from core.services.clients import contacts, files
from core.services.platform.context import Actor
from core.testing.fixtures import csrf_token

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


def _contact(app, owner_id):
    with app.app_context(), unit_of_work():
        return contacts.save(Actor(db.session.get(User, owner_id)), None, {"first_name": "Файлов"}).id


def _upload(client, contact_id, data, name):
    return client.post(f"/contacts/{contact_id}/files", content_type="multipart/form-data",
                       data={"csrf_token": csrf_token(client), "file": (io.BytesIO(data), name)})


def test_upload_download_and_preview(app, admin, admin_client):
    contact_id = _contact(app, admin.id)
    assert _upload(admin_client, contact_id, PNG, "photo.png").status_code == 302
    with app.app_context(), unit_of_work():
        attachment = db.session.scalar(select(Attachment))
        assert (attachment.filename, attachment.content_type, attachment.size) == ("photo.png", "image/png", len(PNG))
        attachment_id = attachment.id
    card = admin_client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    assert f"/files/{attachment_id}/preview" in card and "photo.png" in card
    download = admin_client.get(f"/files/{attachment_id}")
    assert download.data == PNG and "attachment" in download.headers["Content-Disposition"]
    preview = admin_client.get(f"/files/{attachment_id}/preview")
    assert preview.mimetype == "image/png" and "inline" in preview.headers.get("Content-Disposition", "inline")


def test_hostile_uploads_are_defused(app, admin, admin_client):
    contact_id = _contact(app, admin.id)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    assert _upload(admin_client, contact_id, svg, "../../etc/<img src=x onerror=alert(1)>.svg").status_code == 302
    assert _upload(admin_client, contact_id, b"", "empty.txt").status_code == 302
    with app.app_context(), unit_of_work():
        rows = db.session.scalars(select(Attachment)).all()
        assert len(rows) == 1, "the empty file was refused"
        attachment = rows[0]
        assert "/" not in attachment.filename and attachment.content_type == "application/octet-stream"
        attachment_id = attachment.id
    preview = admin_client.get(f"/files/{attachment_id}/preview")
    assert preview.mimetype == "application/octet-stream" and "attachment" in preview.headers["Content-Disposition"]
    assert "sandbox" in preview.headers["Content-Security-Policy"]
    card = admin_client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    assert "<img src=x onerror" not in card


def test_other_owners_cannot_reach_the_file(app, admin, admin_client, make_user, login, client):
    contact_id = _contact(app, admin.id)
    _upload(admin_client, contact_id, b"%PDF-1.4 secret", "contract.pdf")
    with app.app_context(), unit_of_work():
        attachment_id = db.session.scalar(select(Attachment.id))
    seller = make_user("seller@example.com", grants={("contact", "view"): "own", ("contact", "edit"): "own"})
    login(seller)
    assert client.get(f"/files/{attachment_id}").status_code == 403
    assert client.get(f"/files/{attachment_id}/preview").status_code == 403
    assert _upload(client, contact_id, PNG, "x.png").status_code == 403


def _raw_upload(client, contact_id, data: bytes, name: str):
    """A multipart upload as any client may send it: the name in RFC 5987 ``filename*``, so it can carry CR/LF,
    quotes, NUL, bidi overrides and any script (werkzeug decodes it into the file's name)."""
    boundary = "mayak-" + secrets.token_hex(8)
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{csrf_token(client)}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="upload.bin"; '
            f"filename*=UTF-8''{quote(name, safe='')}\r\nContent-Type: application/octet-stream\r\n\r\n")
    body = head.encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return client.post(f"/contacts/{contact_id}/files", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


HOSTILE_NAMES = ["a\r\nb.txt", "x\r\nSet-Cookie: s=1\r\n\r\n<b>hi</b>.html", '"; filename="evil.exe', "a\x00b.pdf",
                 "evil\u202etxt.exe", "zero\u200bwidth.png", "..", ".", "/etc/passwd", "C:\\Users\\x\\report.doc",
                 "Договор №5 «Ромашка».pdf", "💥.png", "tab\there.txt", "line\u2028sep.txt", "\x85next.txt",
                 "a" * 400 + ".xlsx", " ", "%0d%0a.txt", "naïve résumé.pdf", "東京.jpg"]
_HEADER_SAFE = re.compile(r"^[\x20-\x7e]*$")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                HealthCheck.too_slow])
@given(name=st.one_of(st.sampled_from(HOSTILE_NAMES), st.text(min_size=1, max_size=300)))
def test_any_uploaded_name_is_kept_clean_and_downloads(app, admin, admin_client, name):
    """Whatever name a client sends, the file is saved under a clean name and downloads with a Content-Disposition
    that is plain ASCII and gives the exact name back in ``filename*`` (a CR/LF in the name was a 500)."""
    contact_id = _contact(app, admin.id)
    assert _raw_upload(admin_client, contact_id, PNG, name).status_code == 302
    with app.app_context(), unit_of_work():
        attachment = db.session.scalars(select(Attachment).order_by(Attachment.id.desc())).first()
        stored, attachment_id = attachment.filename, attachment.id
    assert stored == files.safe_name(name) and 0 < len(stored) <= 255
    assert not any(unicodedata.category(ch)[0] in "CZ" and ch != " " for ch in stored)
    assert not set(stored) & set('/\\<>:"|?*') and stored == stored.strip(" .")
    for path in (f"/files/{attachment_id}", f"/files/{attachment_id}/preview"):
        response = admin_client.get(path)
        assert response.status_code == 200 and response.data == PNG
        header = response.headers["Content-Disposition"]
        assert _HEADER_SAFE.match(header), header
        kind, options = parse_options_header(header)
        assert kind == ("attachment" if path.endswith(str(attachment_id)) else "inline")
        assert options["filename"] == stored, "a client that reads filename* gets the exact name"
        fallback = re.search(r'filename="([^"\\]*)";', header)
        assert fallback and fallback.group(1).strip("_.-"), "old clients get a plain ASCII name"
        assert unquote(header.split("filename*=UTF-8''", 1)[1]) == stored


def test_names_stored_before_the_rule_still_download(app, admin, admin_client):
    """Attachments saved while names kept CR/LF (or anything else) are served under a clean name, not a 500."""
    contact_id = _contact(app, admin.id)
    assert _upload(admin_client, contact_id, PNG, "photo.png").status_code == 302
    with app.app_context(), unit_of_work():
        attachment = db.session.scalar(select(Attachment).order_by(Attachment.id.desc()))
        attachment.filename = 'old\r\nSet-Cookie: x=1\r\n"name".png'
        db.session.commit()
        attachment_id = attachment.id
    response = admin_client.get(f"/files/{attachment_id}")
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    assert parse_options_header(response.headers["Content-Disposition"])[1]["filename"] == \
        files.safe_name('old\r\nSet-Cookie: x=1\r\n"name".png') == "old Set-Cookie_ x=1 _name_.png"
