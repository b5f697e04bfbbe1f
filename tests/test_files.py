"""Files on the timeline: upload, download, preview of images and PDFs, hostile names and types."""

from __future__ import annotations

import io

from sqlalchemy import select

from core.db import db
from core.models import Attachment, User
from core.services import contacts
from core.services.context import Actor
from core.testing.fixtures import csrf_token

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


def _contact(app, owner_id):
    with app.app_context():
        return contacts.save(Actor(db.session.get(User, owner_id)), None, {"first_name": "Файлов"}).id


def _upload(client, contact_id, data, name):
    return client.post(f"/contacts/{contact_id}/files", content_type="multipart/form-data",
                       data={"csrf_token": csrf_token(client), "file": (io.BytesIO(data), name)})


def test_upload_download_and_preview(app, admin, admin_client):
    contact_id = _contact(app, admin.id)
    assert _upload(admin_client, contact_id, PNG, "photo.png").status_code == 302
    with app.app_context():
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
    with app.app_context():
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
    with app.app_context():
        attachment_id = db.session.scalar(select(Attachment.id))
    seller = make_user("seller@example.com", grants={("contact", "view"): "own", ("contact", "edit"): "own"})
    login(seller)
    assert client.get(f"/files/{attachment_id}").status_code == 403
    assert client.get(f"/files/{attachment_id}/preview").status_code == 403
    assert _upload(client, contact_id, PNG, "x.png").status_code == 403
