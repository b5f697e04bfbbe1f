"""WTForms forms for the core pages (Flask-WTF adds the CSRF token to each)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])
    remember = BooleanField(_l("Keep me signed in"))


class PreferencesForm(FlaskForm):
    full_name = StringField(_l("Full name"), validators=[Optional(), Length(max=200)])
    locale = SelectField(_l("Language"), choices=[])
    timezone = SelectField(_l("Time zone"), choices=[])


class PasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()])
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=10, max=1024)])
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("The two passwords differ."))],
    )


class UserForm(FlaskForm):
    full_name = StringField(_l("Full name"), validators=[Optional(), Length(max=200)])
    # the account service checks the address (intranet domains such as crm.local are fine for staff)
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[Optional(), Length(min=10, max=1024)])
    is_admin = BooleanField(_l("Administrator (may do everything)"))
    roles = SelectMultipleField(_l("Roles"), coerce=int, choices=[])
    teams = SelectMultipleField(_l("Teams"), coerce=int, choices=[])
    extension = StringField(_l("Extension on the PBX"), validators=[Optional(), Length(max=20)],
                            description=_l("The internal number of this person's phone, such as 101: their calls "
                                           "and click-to-call use it."))


class TeamForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    members = SelectMultipleField(_l("Members"), coerce=int, choices=[])


class RoleForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    description = StringField(_l("Description"), validators=[Optional(), Length(max=500)])


class EmptyForm(FlaskForm):
    """A form with only the CSRF token, for buttons that change something."""
