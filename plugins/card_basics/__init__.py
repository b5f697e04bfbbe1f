"""Card basics: "Call" (tel:) and "Write" (mailto:) quick actions and a "Colleagues" panel on client cards.

Telephony and mail plugins add richer actions (click-to-call through the provider, sending from the CRM) next
to these.
"""
