"""An isolated task's own post-to-main prefix (issue 14): every door takes it, the service
keeps it, and an empty one falls back to the plugin's setting."""

from __future__ import annotations

import pytest

from core import cron_command
from core.errors import UserError
from core.service import JobChanges, JobSpec
from core.views import job_view, parse_changes, parse_create

from .conftest import ALICE, World


async def test_a_task_keeps_its_own_post_prefix_and_an_empty_one_means_the_setting(
    world: World,
):
    job = await world.create(message="news", every="1h", mode="isolated", post_prefix=" 日报 ")
    assert job.payload.post_prefix == "日报"
    assert job_view(job)["post_prefix"] == "日报"
    job = await world.service.edit(ALICE, job.id, JobChanges(post_prefix=""))
    assert job.payload.post_prefix is None


async def test_a_long_post_prefix_is_refused_with_the_limit(world: World):
    with pytest.raises(UserError, match="at most 40 characters"):
        await world.create(message="news", every="1h", mode="isolated", post_prefix="x" * 41)


def test_the_web_tool_and_chat_doors_take_a_post_prefix():
    body = {"session": "qq:FriendMessage:1", "message": "m", "every": "1h", "post_prefix": "P"}
    assert parse_create(body).spec.post_prefix == "P"
    assert parse_changes({"post_prefix": "Q"}).post_prefix == "Q"
    assert JobSpec.from_mapping({"message": "m", "post_prefix": "T"}).post_prefix == "T"
    command = cron_command.parse("add 08:00 --agent --prefix Daily summarize the news")
    assert command.fields["post_prefix"] == "Daily" and command.text == "summarize the news"
