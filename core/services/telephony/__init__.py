"""Telephony, whatever the PBX: calls folded from the providers' events (:mod:`.calls`), who a call is for
(:mod:`.extensions`), click-to-call (:mod:`.dialing`), recordings (:mod:`.recordings`) and the call log
(:mod:`.log`). A provider plugin does the wire work and hands :class:`~core.plugins.providers.CallEvent` items to
:func:`.calls.record_events`; everything a CRM does with a call happens here."""
