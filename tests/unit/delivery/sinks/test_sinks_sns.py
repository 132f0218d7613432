"""SNS notifications: CloudTrail's message, published via moto's SNS and read back from SQS, or POSTed."""

from __future__ import annotations

import asyncio
import json

import httpx
import orjson
import pytest

from tests.unit.delivery.sinks.farside import MotoServer, run_webhook
from tests.unit.delivery.sinks.support import delivered, make_trail, moto_api, notice, unique
from trailkeeper.config import WebhookConfig
from trailkeeper.delivery.base import SinkError
from trailkeeper.delivery.sinks import SnsPublisher, SnsSink, WebhookPublisher, notification_messages
from trailkeeper.delivery.sinks.sns import MAX_MESSAGE_BYTES
from trailkeeper.delivery.sinks.webhook import topic_matches


def test_message_names_bucket_and_every_key_in_delivery_order() -> None:
    files = [delivered(key="p/AWSLogs/1.json.gz"), delivered(key="p/AWSLogs/2.json.gz")]
    [message] = notification_messages(files)
    assert message == '{"s3Bucket":"audit-logs","s3ObjectKey":["p/AWSLogs/1.json.gz","p/AWSLogs/2.json.gz"]}'


def test_messages_one_per_bucket() -> None:
    files = [
        delivered(key="a", bucket="b1"),
        delivered(key="b", bucket="b2"),
        delivered(key="c", bucket="b1"),
    ]
    bodies = [orjson.loads(m) for m in notification_messages(files)]
    assert bodies == [{"s3Bucket": "b1", "s3ObjectKey": ["a", "c"]}, {"s3Bucket": "b2", "s3ObjectKey": ["b"]}]


def test_messages_over_the_sns_limit_are_split_without_losing_a_key() -> None:
    keys = [f"AWSLogs/{i:05d}/" + "k" * 200 for i in range(3000)]  # ~640 KB of keys
    messages = notification_messages([delivered(key=k) for k in keys])
    assert len(messages) > 2
    assert all(len(m.encode()) <= MAX_MESSAGE_BYTES for m in messages)
    assert [k for m in messages for k in orjson.loads(m)["s3ObjectKey"]] == keys


def test_messages_split_exactly_at_the_limit() -> None:
    keys = ["a" * 10, "b" * 10, "c" * 10]
    whole = notification_messages([delivered(key=k) for k in keys])[0]
    assert notification_messages([delivered(key=k) for k in keys], limit=len(whole)) == [whole]
    assert len(notification_messages([delivered(key=k) for k in keys], limit=len(whole) - 1)) == 2


def test_publish_reaches_a_subscribed_queue_with_cloudtrail_message(moto: MotoServer) -> None:
    topic = moto.client("sns").create_topic(Name=unique("ct"))["TopicArn"]
    queue = moto.queue_for_topic(topic, unique("q"))
    files = [delivered(key="AWSLogs/111122223333/CloudTrail/us-east-1/2026/01/01/f1.json.gz")]

    async def scenario() -> None:
        async with moto_api(moto, "sns") as api:
            await SnsSink([SnsPublisher(api)]).send(make_trail(sns_topic_arn=topic), notice(*files))

    asyncio.run(scenario())
    [body] = moto.drain_queue(queue, want=1)
    envelope = json.loads(body)
    assert envelope["TopicArn"] == topic
    assert json.loads(envelope["Message"]) == {"s3Bucket": "audit-logs", "s3ObjectKey": [files[0].key]}


def test_publish_to_missing_topic_is_not_retryable(moto: MotoServer) -> None:
    topic = f"arn:aws:sns:us-east-1:{moto.account_id}:{unique('absent')}"

    async def scenario() -> SinkError:
        async with moto_api(moto, "sns") as api:
            with pytest.raises(SinkError) as caught:
                await SnsSink([SnsPublisher(api)]).send(make_trail(sns_topic_arn=topic), notice(delivered()))
            return caught.value

    err = asyncio.run(scenario())
    assert not err.retryable
    assert str(err).startswith("NotFound")


def test_publish_to_endpoint_down_is_retryable() -> None:
    async def scenario() -> SinkError:
        from tests.unit.delivery.sinks.support import api

        async with api("sns", "http://127.0.0.1:9") as down:  # discard port: nothing listens
            trail = make_trail(sns_topic_arn="arn:aws:sns:us-east-1:111122223333:t")
            with pytest.raises(SinkError) as caught:
                await SnsSink([SnsPublisher(down)]).send(trail, notice(delivered()))
            return caught.value

    assert asyncio.run(scenario()).retryable


@pytest.mark.parametrize("configured", ["ct-hook", "arn:aws:sns:us-east-1:111122223333:ct-hook"])
def test_webhook_named_by_topic_name_or_arn_gets_the_same_body(configured: str) -> None:
    file = delivered(key="AWSLogs/x.json.gz")
    with run_webhook() as hook:

        async def scenario() -> None:
            async with httpx.AsyncClient() as client:
                sink = SnsSink([WebhookPublisher(WebhookConfig(configured, hook.url), client)])
                await sink.send(
                    make_trail(sns_topic_arn="arn:aws:sns:us-east-1:111122223333:ct-hook"), notice(file)
                )

        asyncio.run(scenario())
        [hit] = hook.hits
    assert hit.headers["content-type"] == "application/json"
    assert json.loads(hit.body) == {"s3Bucket": "audit-logs", "s3ObjectKey": [file.key]}


def test_webhook_handles_its_topic_only() -> None:
    assert topic_matches("hooked", "arn:aws:sns:eu-west-1:111122223333:hooked")
    assert topic_matches(
        "arn:aws:sns:eu-west-1:111122223333:hooked", "arn:aws:sns:eu-west-1:111122223333:hooked"
    )
    assert not topic_matches("hooked", "arn:aws:sns:eu-west-1:111122223333:hooked-not")
    assert not topic_matches(
        "arn:aws:sns:us-east-1:111122223333:hooked", "arn:aws:sns:eu-west-1:111122223333:hooked"
    )


def test_webhook_goes_first_and_sns_takes_the_other_topics(moto: MotoServer) -> None:
    topic = moto.client("sns").create_topic(Name=unique("ct"))["TopicArn"]
    queue = moto.queue_for_topic(topic, unique("q"))
    with run_webhook() as hook:

        async def scenario() -> None:
            async with moto_api(moto, "sns") as api, httpx.AsyncClient() as client:
                sink = SnsSink(
                    [WebhookPublisher(WebhookConfig("hooked", hook.url), client), SnsPublisher(api)]
                )
                await sink.send(make_trail(sns_topic_arn=topic), notice(delivered(key="to-sns")))
                hooked = make_trail(sns_topic_arn="arn:aws:sns:us-east-1:111122223333:hooked")
                await sink.send(hooked, notice(delivered(key="to-hook")))

        asyncio.run(scenario())
        assert [json.loads(h.body)["s3ObjectKey"] for h in hook.hits] == [["to-hook"]]
    [body] = moto.drain_queue(queue, want=1)
    assert json.loads(json.loads(body)["Message"])["s3ObjectKey"] == ["to-sns"]


@pytest.mark.parametrize(
    ("status", "retryable"), [(500, True), (503, True), (429, True), (400, False), (404, False)]
)
def test_webhook_error_status_retryable_only_when_it_may_pass(status: int, retryable: bool) -> None:
    with run_webhook(status=status) as hook:

        async def scenario() -> SinkError:
            async with httpx.AsyncClient() as client:
                sink = SnsSink([WebhookPublisher(WebhookConfig("t", hook.url), client)])
                with pytest.raises(SinkError) as caught:
                    await sink.send(
                        make_trail(sns_topic_arn="arn:aws:sns:us-east-1:111122223333:t"), notice(delivered())
                    )
                return caught.value

        err = asyncio.run(scenario())
    assert err.retryable is retryable
    assert f"HTTP {status}" in str(err)


def test_webhook_errors_never_show_the_url_query_or_user_info() -> None:
    secret_url = "http://user:pa55word@127.0.0.1:9/hook?token=s3cr3t"

    async def scenario() -> SinkError:
        async with httpx.AsyncClient() as client:
            sink = SnsSink([WebhookPublisher(WebhookConfig("t", secret_url), client)])
            assert "s3cr3t" not in sink.describe()
            assert "pa55word" not in sink.describe()
            with pytest.raises(SinkError) as caught:
                await sink.send(
                    make_trail(sns_topic_arn="arn:aws:sns:us-east-1:111122223333:t"), notice(delivered())
                )
            return caught.value

    text = str(asyncio.run(scenario()))
    assert "127.0.0.1:9/hook" in text
    assert "s3cr3t" not in text
    assert "pa55word" not in text


def test_topic_without_endpoint_or_webhook_is_a_lasting_error() -> None:
    async def scenario() -> SinkError:
        with pytest.raises(SinkError) as caught:
            await SnsSink([]).send(
                make_trail(sns_topic_arn="arn:aws:sns:us-east-1:111122223333:t"), notice(delivered())
            )
        return caught.value

    err = asyncio.run(scenario())
    assert not err.retryable
    assert "no SNS endpoint or webhook" in str(err)


def test_sink_wants_only_trails_with_a_topic() -> None:
    sink = SnsSink([])
    assert sink.wants(make_trail(sns_topic_arn="arn:aws:sns:us-east-1:111122223333:t"))
    assert not sink.wants(make_trail())
