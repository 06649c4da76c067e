"""Serving a model on the serverless endpoint, driven by the endpoint's own state changes.

A decision to serve a model (the gate's, or a person's) is recorded before anything else: the model
becomes `promoting`, with the endpoint config it needs. `reconcile` then moves the endpoint towards
the newest pending decision whenever the endpoint can take a call, and records only what the
endpoint really does. SageMaker's facts behind each rule (DescribeEndpoint's EndpointStatus in the
API reference; "SageMaker Endpoint State Change" in the developer guide's EventBridge page):

- Create/UpdateEndpoint return at once and finish minutes later, or fail: nothing is recorded as
  serving until DescribeEndpoint says InService on its config.
- UpdateEndpoint is refused while the endpoint is Creating/Updating/...: the decision waits, and the
  next state-change event (EventBridge → on_training_event) calls `reconcile` again.
- A failed update is rolled back: InService again on the previous config, with a FailureReason.
  The model that was being deployed is `failed` with that reason; the champion is untouched.
- A failed create leaves the endpoint Failed, and "DeleteEndpoint is the only operation that can be
  performed on a failed endpoint": the model it was created for is `failed` with SageMaker's
  reason, the endpoint deleted and created again on the champion's config (service restored).

A second decision while one is pending: the newest decision wins. A pending model that has not
reached the endpoint when a newer one is applied ends `rejected`, its reason naming the newer one;
one already being deployed finishes (champion, then replaced by the newer one at once).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from vista_app import errors, registry
from vista_app.config import Settings
from vista_app.errors import BadRequest, Conflict, NotFound
from vista_app.records import History, Models, timestamp

ENDPOINT_EVENT = "SageMaker Endpoint State Change"
VARIANT = "AllTraffic"
BUSY = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting")
# A failed endpoint is deleted in seconds; the wait stays well inside the function's timeout.
DELETED_WAIT = {"Delay": 2, "MaxAttempts": 40}
CLOCK_SKEW_S = 1  # SageMaker's clock against this function's
MAX_STEPS = 6  # create, then (an emulator that is InService at once) champion, then the next


class UnknownModel(NotFound):
    pass


class OtherClasses(BadRequest):
    """A manual promotion of a model whose classes are not the champion's, without `force`."""


class NothingToRollBack(Conflict):
    """No champion yet, or no model served before it."""


def endpoint_config_name(model: str, settings: Settings) -> str:
    return f"{model}-{settings.serverless_memory_mb}mb-{settings.serverless_max_concurrency}x"[:63]


def request_promotion(
    model: dict[str, Any],
    *,
    settings: Settings,
    sagemaker: Any,
    models: Models,
    why: str = "gate",
    requested_by: str = "gate",
    detail: str | None = None,
) -> dict[str, Any]:
    """Record the decision to serve `model` (`promoting`): why (the gate, a manual promotion, a
    rollback), who made it and what they said; then move the endpoint as far as it goes now.
    Returns the model's record as it stands (promoting, champion, or failed)."""
    name = model["name"]
    _create_if_missing(
        sagemaker.create_model,
        ModelName=name,
        ExecutionRoleArn=settings.serving_role_arn,
        PrimaryContainer={"Image": settings.inference_image, "ModelDataUrl": model["artifact"]},
        EnableNetworkIsolation=True,  # TF Serving needs nothing from outside its model archive
    )
    config = endpoint_config_name(name, settings)
    _create_if_missing(
        sagemaker.create_endpoint_config,
        EndpointConfigName=config,
        ProductionVariants=[
            {
                "VariantName": VARIANT,
                "ModelName": name,
                "ServerlessConfig": {
                    "MemorySizeInMB": settings.serverless_memory_mb,
                    "MaxConcurrency": settings.serverless_max_concurrency,
                },
            }
        ],
    )
    models.update(
        name,
        {
            "state": "promoting",
            "endpoint_config": config,
            "promotion_requested_at": timestamp(),
            "promotion_requested_by": requested_by,
            "promotion_why": why,
            "promotion_detail": detail or "",
        },
        remove=("deploying_at", "reason"),
    )
    reconcile(settings=settings, sagemaker=sagemaker, models=models, known=[name])
    return models.get(name) or model


def promote_by_name(
    name: str, *, settings: Settings, sagemaker: Any, models: Models, requested_by: str, force: bool = False
) -> dict[str, Any]:
    """A person's decision: serve this model, whatever the gate said; one that answers with other
    classes than the champion's only with `force` (every prediction would change its vocabulary)."""
    model = models.get(name)
    if model is None:
        raise UnknownModel(f"no model named {name}")
    if model["state"] in ("champion", "promoting"):
        return model
    champion = models.champion()
    ours, theirs = sorted(model.get("classes") or []), sorted((champion or {}).get("classes") or [])
    if champion and ours != theirs and not force:
        raise OtherClasses(
            f"{name} answers with {len(ours)} classes {ours}, the champion {champion['name']} with {len(theirs)} "
            f"{theirs}: every prediction would change its classes. Promote it with force to do so anyway"
        )
    return request_promotion(
        model, settings=settings, sagemaker=sagemaker, models=models, why="manual", requested_by=requested_by
    )


def roll_back(*, settings: Settings, sagemaker: Any, models: Models, requested_by: str) -> dict[str, Any]:
    """Serve again the model that served before the champion (the history's `from` of the change
    that crowned it), as any promotion: `promoting` until the endpoint serves it."""
    champion = models.champion()
    if champion is None:
        raise NothingToRollBack("no model serves yet: there is nothing to roll back")
    crowning = History(settings.history_table).crowning(champion["name"])
    previous = models.get(crowning["from"]) if crowning and crowning.get("from") else None
    if previous is None:
        raise NothingToRollBack(f"{champion['name']} is the first champion on record: no model served before it")
    return request_promotion(
        previous,
        settings=settings,
        sagemaker=sagemaker,
        models=models,
        why="rollback",
        requested_by=requested_by,
        detail=f"rolled back from {champion['name']}",
    )


def on_endpoint_state_change(
    detail: dict[str, Any], *, settings: Settings, sagemaker: Any, models: Models
) -> dict[str, Any]:
    """An endpoint state-change event: only ours matters, and only as a cue to look (events come
    more than once and out of order: the endpoint is described, never read from the event)."""
    name = detail.get("EndpointName")
    if name != settings.endpoint_name:
        return {"endpoint": name, "outcome": "ignored: not this stack's endpoint"}
    return {"endpoint": name, **reconcile(settings=settings, sagemaker=sagemaker, models=models)}


def reconcile(*, settings: Settings, sagemaker: Any, models: Models, known: list[str] | None = None) -> dict[str, Any]:
    """Move the endpoint one step at a time until it must be waited for; what was done, for the log.

    `known`: models just set `promoting` (the state index is eventually consistent)."""
    done: list[str] = []
    for _ in range(MAX_STEPS):
        step = _step(settings, sagemaker, models, known or [])
        if step is None:
            break
        done.append(step)
    champion = models.champion()
    if champion:  # Approved in the registry: a call after its crowning that did not get through is made now
        registry.follow(champion["name"], sagemaker=sagemaker, models=models)
    return {"outcome": "; ".join(done) or "nothing to do", "champion": (champion or {}).get("name")}


def _pending(models: Models, known: list[str]) -> list[dict[str, Any]]:
    """Models waiting to be served, oldest decision first (each read back consistently)."""
    names = {m["name"] for m in models.in_state("promoting")} | set(known)
    found = [models.get(name) for name in sorted(names)]
    pending = [m for m in found if m and m["state"] == "promoting"]
    return sorted(pending, key=lambda m: m.get("promotion_requested_at", ""))


def _step(settings: Settings, sagemaker: Any, models: Models, known: list[str]) -> str | None:
    """One call's worth of progress, or None when there is nothing to do or the endpoint is busy."""
    endpoint = _describe(sagemaker, settings.endpoint_name)
    pending = _pending(models, known)
    champion = models.champion()
    if endpoint is None:  # the newest decision; with none pending, the champion's config (restored)
        target = pending[-1] if pending else champion
        if target is None:
            return None
        return _deploy(sagemaker.create_endpoint, target, settings, models)
    status, config = endpoint["EndpointStatus"], endpoint["EndpointConfigName"]
    if status in BUSY:
        return None
    if status == "Failed":
        reason = endpoint.get("FailureReason", "the endpoint failed")
        for model in [*pending, *([champion] if champion else [])]:
            if model.get("endpoint_config") == config:
                _fail(settings, sagemaker, models, model, f"the endpoint could not serve it: {reason}", champion)
        try:
            sagemaker.delete_endpoint(EndpointName=settings.endpoint_name)
        except ClientError as error:  # a concurrent delivery is deleting it: that one carries on
            if errors.is_in_progress(error) or errors.is_not_found(error):
                return None
            raise
        sagemaker.get_waiter("endpoint_deleted").wait(EndpointName=settings.endpoint_name, WaiterConfig=DELETED_WAIT)
        return f"deleted the failed endpoint ({reason})"
    # InService (or UpdateRollbackFailed: still serving its config).
    serving = next((m for m in pending if m.get("endpoint_config") == config), None)
    if serving is not None:
        if not _crown(settings, models, serving):
            return f"{serving['name']}: a concurrent delivery changed the champions first; looking again"
        return f"{serving['name']} in service"
    rolled_back = [m for m in pending if m.get("deploying_at") and _rolled_back(endpoint, m)]
    for model in rolled_back:
        _fail(
            settings,
            sagemaker,
            models,
            model,
            f"SageMaker rolled the endpoint back: {endpoint['FailureReason']}",
            champion,
        )
    if rolled_back:
        return f"{', '.join(m['name'] for m in rolled_back)} rolled back"
    waiting = [m for m in pending if not m.get("deploying_at")]
    if not waiting:
        return None
    newest = waiting[-1]
    for older in waiting[:-1]:
        models.update(
            older["name"],
            {"state": "rejected", "reason": f"superseded by {newest['name']}, promoted after it"},
            condition="#s = :promoting",
            values={":promoting": "promoting"},
            names={"#s": "state"},
        )
        registry.follow(older["name"], sagemaker=sagemaker, models=models)
    return _deploy(sagemaker.update_endpoint, newest, settings, models)


def _describe(sagemaker: Any, name: str) -> dict[str, Any] | None:
    try:
        return sagemaker.describe_endpoint(EndpointName=name)
    except ClientError as error:
        if errors.is_not_found(error):
            return None
        raise


def _deploy(call: Callable[..., Any], model: dict[str, Any], settings: Settings, models: Models) -> str | None:
    """CreateEndpoint or UpdateEndpoint on the model's config; None when SageMaker is busy with
    another call (a concurrent delivery got there first: its state change will come)."""
    config = model.get("endpoint_config") or endpoint_config_name(model["name"], settings)
    try:
        call(EndpointName=settings.endpoint_name, EndpointConfigName=config)
    except ClientError as error:
        if errors.is_in_progress(error) or errors.is_already_existing(error):
            return None
        raise
    if model["state"] == "promoting":
        models.update(
            model["name"],
            {"deploying_at": timestamp()},
            condition="#s = :p",
            values={":p": "promoting"},
            names={"#s": "state"},
        )
    return f"{call.__name__.replace('_', ' ')} on {model['name']}"


def _rolled_back(endpoint: dict[str, Any], model: dict[str, Any]) -> bool:
    """The endpoint came back on another config, with a failure, after this model's deploy began."""
    modified = endpoint.get("LastModifiedTime")
    began = datetime.fromisoformat(model["deploying_at"]).timestamp() - CLOCK_SKEW_S
    return bool(endpoint.get("FailureReason")) and (modified is None or modified.timestamp() >= began)


def _crown(settings: Settings, models: Models, model: dict[str, Any]) -> bool:
    """The endpoint serves `model`: it is the champion, no other model is, and the history says
    so (one transaction, refused if another delivery crowned in between: the step is then taken
    again on fresh reads)."""
    replacing = [m["name"] for m in models.in_state("champion")]
    change = History(settings.history_table).put(
        model=model["name"],
        before=next((name for name in replacing if name != model["name"]), None),
        after=model["name"],
        why=model.get("promotion_why", "gate"),
        by=model.get("promotion_requested_by"),
        detail=model.get("promotion_detail") or None,
    )
    return models.crown(model["name"], endpoint=settings.endpoint_name, replacing=replacing, change=change)


def _fail(
    settings: Settings,
    sagemaker: Any,
    models: Models,
    model: dict[str, Any],
    reason: str,
    champion: dict[str, Any] | None,
) -> None:
    """The endpoint could not serve `model`: it is `failed`, and the history says which champion
    stayed (none, when the champion's own config failed)."""
    serving = champion["name"] if champion else None
    change = History(settings.history_table).put(
        model=model["name"],
        before=serving,
        after=None if model["name"] == serving else serving,
        why="failed deploy",
        by=model.get("promotion_requested_by"),
        detail=f"{model['name']} ({model.get('promotion_why', 'gate')}) failed: {reason}"[:1000],
    )
    if models.fail(model["name"], reason, was=model["state"], change=change):
        registry.follow(model["name"], sagemaker=sagemaker, models=models)


def _create_if_missing(create: Callable[..., Any], **kwargs: Any) -> None:
    try:
        create(**kwargs)
    except ClientError as error:
        if not errors.is_already_existing(error):
            raise
