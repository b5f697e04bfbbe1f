"""Domain services: the only code that writes models and emits events. They know nothing of Flask requests;
the caller passes who acts and from where as an :class:`~core.services.platform.context.Actor`."""
