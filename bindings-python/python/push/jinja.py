"""Jinja2 templates: :func:`install` adds ``push_turbo_stream_from`` and ``push_sse_attributes``
to an environment's globals (Jinja2 is not a dependency of this package; this module does not
import it)::

    import push.jinja
    push.jinja.install(app.jinja_env)            # Flask; or any jinja2.Environment

    {{ push_turbo_stream_from("/rooms/" ~ room.id) }}
    <div {{ push_sse_attributes("/rooms/1", consumer=user.id) }}>...</div>

Both give :class:`push.SafeHTML`, which autoescaping leaves as is (``__html__``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from push._templates import push_sse_attributes, push_turbo_stream_from

if TYPE_CHECKING:
    import jinja2

__all__ = ["install", "push_turbo_stream_from", "push_sse_attributes"]


def install(env: jinja2.Environment) -> jinja2.Environment:
    """Adds ``push_turbo_stream_from`` and ``push_sse_attributes`` to ``env.globals``; returns
    ``env``. Call it once, when the environment is made (Flask: ``push.jinja.install(app.jinja_env)``)."""
    env.globals["push_turbo_stream_from"] = push_turbo_stream_from
    env.globals["push_sse_attributes"] = push_sse_attributes
    return env
