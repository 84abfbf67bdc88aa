"""The Django app of ``push.django`` (label ``push``): it only carries the template tags."""

from __future__ import annotations

from django.apps import AppConfig


class PushConfig(AppConfig):
    name = "push.django"
    label = "push"
    verbose_name = "push-rs"
