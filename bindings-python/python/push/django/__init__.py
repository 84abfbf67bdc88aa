"""Django: add ``"push.django"`` to ``INSTALLED_APPS``; then a template does::

    {% load push %}
    {% push_turbo_stream_from "/rooms/1" %}
    <div {% push_sse_attributes "/rooms/1" consumer=request.user.pk %}>...</div>

The tags are :func:`push.turbo.stream_source_tag` and :func:`push.htmx.sse_attributes` (same
options, as keyword arguments), in ``push/django/templatetags/push.py``. The app has no models
and nothing to configure: the server's address and secret come from ``PUSH_PUBLIC_URL`` /
``PUSH_URL`` and ``PUSH_SECRET``, or the tags' ``url=`` and ``secret=``. Django is not a
dependency of this package; importing this package does not import Django.
"""
