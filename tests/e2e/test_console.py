"""The web console in a real browser (Debian's Chromium, driven by Playwright) against local mode:
a person trains a model from the form and watches it complete, classifies images, labels a
prediction, reads the leaderboard and the champion's drift chart; and every console route refuses a request without a
live session, as the console's authorizer does on AWS.

Each page is photographed at desktop and phone widths into build/screenshots/ (docs/console.md's
pictures: `make screenshots` writes them to docs/screenshots/)."""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from PIL import Image

from synthetic import camera_jpeg
from tests.helpers.stack import local_cloud
from tests.helpers.support import answered_class
from vista.project import ROOT

pytestmark = pytest.mark.slow
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(os.environ.get("VISTA_SCREENSHOTS", ROOT / "build" / "screenshots"))
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
TRAINING_S = 300
DRIFT_WINDOW = 10  # small, so that three windows close in the test (the stack's minimum)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from synthetic import generate
    from vista.client import upload_dataset
    from vista.target import Target

    parameters = {"DriftWindow": str(DRIFT_WINDOW)}
    with local_cloud(tmp_path_factory.mktemp("console"), parameters=parameters) as cloud:
        target = Target(cloud.outputs, "us-east-1", boto3.Session(region_name="us-east-1"))
        scenes = tmp_path_factory.mktemp("scenes")
        generate(scenes, train_per_class=20, test_per_class=6, size=64, seed=11)
        upload_dataset(target, scenes, "scenes")
        yield cloud, target, scenes


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.fail("no Chromium: `make test` installs Debian's chromium package (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, stack: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    # Chromium logs each 4xx answer as an error too: those the tests expect and check themselves.
    page.on(
        "console",
        lambda m: m.type == "error" and "Failed to load resource" not in m.text and problems.append(m.text),
    )
    page.set_default_timeout(30_000)
    yield page
    context.close()
    # A Content-Security-Policy violation or a script error is a defect even when the test passed.
    assert not problems


UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea, button, img, a')]
    .filter(e => !e.closest('[hidden]'))
    .filter(e => {
        if (e.tagName === 'IMG') return e.getAttribute('alt') === null;
        if (e.tagName === 'BUTTON' || e.tagName === 'A') return !(e.textContent.trim() || e.getAttribute('aria-label'));
        return !(e.labels && e.labels.length) && !e.getAttribute('aria-label');
    })
    .map(e => e.outerHTML.slice(0, 120))"""


def photograph(page: Any, name: str, *, reload: bool = True) -> None:
    """The page at each width; `reload` draws it anew at that width, as a phone would load it
    (not for a page whose content lives only in the browser, like the classify results)."""
    # Every control a screen reader meets has a name: a label, alt text, or its own words.
    assert page.evaluate(UNLABELLED) == [], name
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("document.getElementById('toast').classList.remove('show')")
    for width, (w, h) in WIDTHS.items():
        page.set_viewport_size({"width": w, "height": h})
        if reload and width != "desktop":
            page.reload(wait_until="networkidle")
        page.wait_for_timeout(300)  # let the layout settle at the new width
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def close_windows(target: Any, images: list[Path], windows: int) -> dict[str, Any]:
    """Drop the images into the inbox; the champion's record once it has `windows` closed windows.
    A wave of at least DRIFT_WINDOW images closes one window (the batch that fills it closes it)."""
    from vista.client import wait_for

    assert len(images) >= DRIFT_WINDOW
    s3, bucket = target.client("s3"), target.output("DataBucketName")
    for index, path in enumerate(images):
        s3.upload_file(str(path), bucket, f"inbox/drift-{windows}/{index}.jpg")

    def closed() -> dict[str, Any] | None:
        # The champion by its state: the first by test accuracy may be a tie or a model of other images
        champion = next(m for m in target.api("GET", "/models")["items"] if m["state"] == "champion")
        return champion if len(champion.get("drift_history", [])) >= windows else None

    return wait_for(f"drift window {windows} of the champion", closed, 180)


def test_a_person_trains_classifies_labels_and_compares_in_the_browser(page: Any, stack: Any) -> None:
    from playwright.sync_api import expect

    from vista.client import wait_for_endpoint

    cloud, target, scenes = stack
    page.goto(cloud.urls["console"])
    expect(page.locator("#user")).to_contain_text("console@vista.local")

    # Training: the form builds a request the API accepts, and the job is followed until it completes.
    page.get_by_role("link", name="Training").click()
    page.fill("#f-dataset", "datasets/scenes")
    page.select_option("#f-mode", "compare")
    page.check("#f-compare input[value=base_cnn]")
    page.check("#f-compare input[value=fine_cnn]")
    page.fill("#f-epochs", "6")
    page.fill("#f-image_size", "48")
    page.fill("#f-batch_size", "16")
    page.fill("#f-fine_tune_epochs", "0")
    page.select_option("#f-weights", "none")
    page.fill("#f-instance_type", "ml.m5.xlarge")
    # The estimate follows the form as it is edited: the API's own dry run of the request shown.
    shown = page.locator("#training-form pre").text_content()
    dry = target.api(
        "POST", "/training-jobs", body=shown.encode(), content_type="application/json", query={"dry_run": "true"}
    )
    expect(page.locator("#f-estimate")).to_contain_text(
        f"Estimate: at most ${dry['estimate']['max_cost']:.2f} ({dry['estimate']['basis']})"
    )
    expect(page.locator("#f-estimate")).to_contain_text("The cap is $100.00 a request.")
    photograph(page, "training-form", reload=False)
    page.click("#f-submit")
    # The job shows its instances and the estimate it was started with.
    expect(page.locator("#job-resources")).to_contain_text(
        f"1 x ml.m5.xlarge · estimate ≤ ${dry['estimate']['max_cost']:.2f}", timeout=30_000
    )  # the request written, the job started, the page's next look (seconds on a loaded 2-core machine)
    status = page.locator("#job-status")
    status.get_by_text("InProgress").or_(status.get_by_text("Completed")).wait_for()
    job = page.locator("#job-title").inner_text()
    status.get_by_text("Completed").wait_for(timeout=TRAINING_S * 1000)
    # Each member's curves were drawn from its own epoch lines: loss and accuracy, a point an epoch.
    comparison = target.api("GET", f"/training-jobs/{job}")
    assert comparison["status"] == "Completed" and len(comparison["members"]) == 2
    assert page.locator("#job svg.chart").count() == 2 * 2
    assert page.locator("#job svg.chart").first.locator("circle").count() >= 2 * 2
    photograph(page, "training-job")

    # Classify: an image in, its class, confidence and every class's probability out.
    wait_for_endpoint(target, 120)
    image = next((scenes / "seg_test" / "seg_test" / "forest").glob("*.jpg"))
    page.get_by_role("link", name="Classify").click()
    page.set_input_files("#images", [str(image), *list((scenes / "seg_test" / "seg_test" / "sea").glob("*.jpg"))[:2]])
    first = page.locator("#results article").last  # newest first: the forest image is last
    first.locator(".label").wait_for()
    classes = target.api("GET", "/models")["items"][0]["classes"]
    bars = first.locator(".bars .bar-name")  # every class's probability, most likely first
    assert sorted(bars.all_text_contents()) == sorted(classes)
    said = bars.first.text_content()  # the class it names, or, unknown, its best guess
    if first.locator(".label").text_content() == "unknown":
        expect(first.locator(".best-guess")).to_contain_text(f"best guess {said}")
    else:
        assert first.locator(".label").text_content() == said
    # Why? The heatmap of the model's own `explain` signature, drawn over the picture at its size.
    first.get_by_role("button", name="Why?").click()
    heatmap = first.get_by_role("img", name=f"heatmap of what made the model say {said}")
    heatmap.wait_for()
    assert first.get_by_role("button", name="Why?").get_attribute("aria-pressed") == "true"
    assert heatmap.evaluate("c => [c.width, c.height]") == list(Image.open(image).size)
    page.locator("#results article .label").nth(2).wait_for()
    photograph(page, "classify", reload=False)

    # Predictions: thumbnails load through the API's image links; feedback is recorded.
    page.get_by_role("link", name="Predictions").click()
    cards = page.locator("#predictions article")
    cards.nth(2).wait_for()
    assert cards.count() == 3
    page.wait_for_function(
        "() => [...document.querySelectorAll('#predictions img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    card = cards.first
    prediction_id = card.get_attribute("data-id")
    card.get_by_role("button", name="Why?").click()  # the Predictions page explains too
    card.locator("canvas.heatmap").wait_for()
    card.locator(".feedback button").first.click()  # ✓ Correct, or for an unknown answer ✓ It is <best guess>
    card.get_by_text("Feedback recorded").wait_for()
    recorded = target.api("GET", f"/predictions/{prediction_id}")
    assert recorded["feedback_label"] == answered_class(recorded)
    assert recorded["correct"] is (recorded["label"] != "unknown")  # an unknown named no class: never right
    other = cards.nth(1)
    other_id = other.get_attribute("data-id")
    truth = next(c for c in classes if c != target.api("GET", f"/predictions/{other_id}")["label"])
    other.get_by_label("The true class").select_option(truth)
    other.get_by_text("Feedback recorded").wait_for()
    assert target.api("GET", f"/predictions/{other_id}")["feedback_label"] == truth
    page.select_option("#filter-label", recorded["label"])
    page.wait_for_function(
        "label => [...document.querySelectorAll('#predictions .label')].every(l => l.textContent === label)",
        arg=recorded["label"],
    )
    page.select_option("#filter-label", "")
    cards.nth(2).wait_for()
    photograph(page, "predictions")

    # Drift: two waves of held-out images like the test split's, then one of forests only, each
    # closing a window of the champion's answers.
    from synthetic import generate

    generate(scenes / "held", train_per_class=0, test_per_class=2, size=64, seed=12)
    held = sorted((scenes / "held" / "seg_test" / "seg_test").rglob("*.jpg"))
    generate(scenes / "forests", train_per_class=0, test_per_class=DRIFT_WINDOW + 2, size=64, seed=13)
    forests = sorted((scenes / "forests" / "seg_test" / "seg_test" / "forest").glob("*.jpg"))
    for windows, wave in enumerate([held, held, forests], start=1):
        close_windows(target, wave, windows)

    # Models: the leaderboard chart and table say what GET /models says.
    page.get_by_role("link", name="Models").click()
    board = target.api("GET", "/models")["items"]
    rows = page.locator("#leaderboard tbody tr")
    rows.nth(1).wait_for()
    assert [rows.nth(i).get_attribute("data-model") for i in range(rows.count())] == [m["name"] for m in board]
    for row, model in zip([rows.nth(i) for i in range(rows.count())], board, strict=True):
        assert f"{100 * model['accuracy']:.1f}%" in row.inner_text() and model["state"] in row.inner_text().lower()
    shown = [f"{m['name']} ({m['architecture']})" for m in board]
    assert page.locator("#leaderboard-chart .bar-name").all_text_contents() == shown
    assert page.locator("#leaderboard-note").inner_text() == target.api("GET", "/models")["note"]
    champion = next(m for m in board if m["state"] == "champion")  # the details the page opens on
    f1 = page.get_by_role("img", name="F1 per class")
    f1.locator(".bar-name").first.wait_for()  # the details come with their charts, after the leaderboard
    assert sorted(f1.locator(".bar-name").all_text_contents()) == sorted(champion["classes"])
    # Drift: divergence and confidence charted a point a closed window; the latest window's verdict.
    assert page.locator("#drift svg.chart").count() == 2
    assert page.locator("#model-details svg.chart").count() == 1 + 1 + 2  # confusion matrix, F1, then drift
    assert page.locator("#drift svg.chart").first.locator("circle").count() == len(champion["drift_history"]) >= 3
    latest = champion["drift"]
    verdict = f"The latest window drifted: {latest['reason']}" if latest["drifted"] else "has not drifted"
    expect(page.locator("#drift")).to_contain_text(verdict)
    photograph(page, "models")
    page.locator("#drift").screenshot(path=str(SHOTS / "drift-desktop.png"))  # docs/operations.md's drift chart

    # Promotion asks first; cancelled, nothing changes; confirmed, the runner-up serves.
    # A person may promote any model the endpoint can serve, the gate's rejected ones too (the API does)
    runner_up = next(m["name"] for m in board if m["state"] in ("retired", "candidate", "rejected"))
    rows.nth([m["name"] for m in board].index(runner_up)).get_by_role("link").click()
    expect(page.locator("#model-title")).to_have_text(runner_up)
    promote = page.get_by_role("button", name="Promote to champion")
    promote.click()
    page.get_by_role("button", name="Cancel").click()
    assert next(m for m in target.api("GET", "/models")["items"] if m["name"] == runner_up)["state"] != "champion"
    promote.click()
    expect(page.locator("#confirm")).to_contain_text(champion["name"])  # says what it replaces
    page.locator("#confirm-ok").click()
    # promoting until the endpoint serves it; the page looks again until then
    expect(page.locator("#model-details .badge").first).to_have_text("champion", timeout=60_000)
    assert next(m for m in target.api("GET", "/models")["items"] if m["name"] == runner_up)["state"] == "champion"

    # The timeline says what served when, and why; one button serves the model before again.
    newest = page.locator("#history .change").first
    expect(newest).to_contain_text(f"{champion['name']} → {runner_up}")
    expect(newest).to_contain_text("manual")
    expect(newest).to_contain_text("registry: Approved")
    page.get_by_role("button", name=f"Roll back to {champion['name']}").click()
    page.locator("#confirm-ok").click()
    expect(page.locator("#history .change").first).to_contain_text(f"{runner_up} → {champion['name']}", timeout=60_000)
    expect(page.locator("#history .change").first).to_contain_text("rollback")
    assert (
        next(m for m in target.api("GET", "/models")["items"] if m["state"] == "champion")["name"] == champion["name"]
    )
    page.locator("#history").screenshot(path=str(SHOTS / "history-desktop.png"))  # docs/operations.md's timeline


def test_a_folder_is_classified_as_a_batch_from_the_console(page: Any, stack: Any) -> None:
    from playwright.sync_api import expect

    cloud, target, scenes = stack
    s3, bucket = target.client("s3"), target.output("DataBucketName")
    for index, path in enumerate(sorted((scenes / "seg_test" / "seg_test").rglob("*.jpg"))[:6]):
        s3.upload_file(str(path), bucket, f"archive/console/{index}.jpg")
    s3.put_object(Bucket=bucket, Key="archive/console/notes.jpg", Body=b"not a photo")
    page.goto(cloud.urls["console"] + "#/batches")
    page.fill("#b-source", "archive/console/")
    page.get_by_role("button", name="Classify the folder").click()
    expect(page.locator("#batch-status .badge")).to_have_text("Completed", timeout=120_000)
    expect(page.locator("#batch-counts")).to_have_text(
        "7 objects: 1 refused by the checks, 6 sent, 6 answered, 0 refused by the model"
    )
    name = page.locator("#batch-title").inner_text()
    assert page.locator("#batch-results").inner_text() == f"s3://{bucket}/results/{name}.csv"
    photograph(page, "batch")
    # A folder that is not one: the API's words, on the page.
    page.fill("#b-source", "archive/console")
    page.get_by_role("button", name="Classify the folder").click()
    expect(page.get_by_role("alert")).to_contain_text("is not a folder")


def test_a_model_is_exported_and_downloaded_from_the_console(page: Any, stack: Any) -> None:
    """The Download panel: an int8 TFLite copy of the champion, built by its job, downloaded by the browser."""
    import json
    import tarfile

    from playwright.sync_api import expect

    cloud, target, _ = stack
    page.goto(cloud.urls["console"] + "#/models")
    page.select_option("#export-format", "tflite-int8")
    page.get_by_role("button", name="Export").click()
    link = page.locator("#export-link")
    expect(link).to_be_visible(timeout=180_000)
    with page.expect_download() as downloading:
        link.click()
    download = downloading.value
    champion = next(m for m in target.api("GET", "/models")["items"] if m["state"] == "champion")
    assert download.suggested_filename == f"{champion['name']}-tflite-int8.tar.gz"
    with tarfile.open(download.path()) as archive:
        assert sorted(archive.getnames()) == ["README.md", "classes.txt", "metrics.json", "model-int8.tflite"]
        figures = json.loads(archive.extractfile("metrics.json").read())  # type: ignore[union-attr]
    expect(page.locator("#export-status")).to_contain_text(
        f"answers as the served model on {100 * figures['top1_agreement']:.1f}% of {figures['test_images']} test images"
    )


def test_a_training_request_the_api_refuses_shows_the_api_s_reason(page: Any, stack: Any) -> None:
    from playwright.sync_api import expect

    cloud, _, _ = stack
    page.goto(cloud.urls["console"] + "#/training")
    page.fill("#f-dataset", "datasets/nowhere")
    page.fill("#f-dropout", "1.5")
    page.click("#f-submit")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "hyperparameters.dropout" in alert.inner_text()  # pydantic's words, through the API
    # A tuning range upside down: the same model's check, the same words.
    page.fill("#f-dropout", "0.3")
    page.check("#f-tune")
    page.fill("#r-learning_rate-min", "0.1")
    page.fill("#r-learning_rate-max", "0.01")
    assert '"learning_rate": {' in page.locator("#training-form pre").text_content()  # the request shown as JSON
    page.click("#f-submit")
    expect(page.get_by_role("alert")).to_contain_text("range min 0.1 must be below max 0.01")
    # Over the stack's cost cap: the form says so, with the estimate, before anything is sent.
    page.fill("#f-dataset", "datasets/scenes")
    page.fill("#r-learning_rate-min", "0.001")
    page.fill("#f-max_jobs", "200")
    expect(page.locator("#f-estimate")).to_contain_text(
        "Would be refused: this request may cost up to $563.20 ($1.408/h x 1 instance(s) x 2 h max runtime x 200 job(s)"
    )


def test_a_file_that_is_not_an_image_gets_a_clear_error(page: Any, stack: Any, tmp_path: Path) -> None:
    cloud, _, _ = stack
    bogus = tmp_path / "notes.png"
    bogus.write_text("not a picture")
    page.goto(cloud.urls["console"] + "#/classify")
    page.set_input_files("#images", str(bogus))
    alert = page.locator("#results article").get_by_role("alert")
    alert.wait_for()
    assert alert.inner_text()  # the API's reason, shown on the image's card


def test_a_photo_too_big_for_a_request_goes_to_s3_and_comes_back_classified(page: Any, stack: Any) -> None:
    """Over the synchronous limit the page asks POST /uploads for a link, PUTs the photo to S3 from
    the browser (the bucket's CORS rule, the page's connect-src) and shows the inbox's answer."""
    from vista.client import SYNCHRONOUS_MAX_BYTES, wait_for_endpoint

    cloud, target, _ = stack
    wait_for_endpoint(target, 120)
    photo = camera_jpeg(4000, 3000, orientation=6)
    assert len(photo) > SYNCHRONOUS_MAX_BYTES
    page.goto(cloud.urls["console"] + "#/classify")
    page.set_input_files("#images", files=[{"name": "phone.jpg", "mimeType": "image/jpeg", "buffer": photo}])
    card = page.locator("#results article").first
    card.locator(".label, [role=alert]").first.wait_for(timeout=120_000)
    assert card.get_by_role("alert").count() == 0, card.get_by_role("alert").inner_text()
    classes = target.api("GET", "/models")["items"][0]["classes"]
    assert card.locator(".label").text_content() in [*classes, "unknown"]
    uploaded = [p for p in target.api("GET", "/predictions")["items"] if p["key"].startswith("inbox/uploads/")]
    assert len(uploaded) == 1 and uploaded[0]["status"] == "OK" and uploaded[0]["bytes"] == len(photo)
    assert uploaded[0]["sent_bytes"] < SYNCHRONOUS_MAX_BYTES // 10  # reduced before the endpoint


def test_the_console_and_the_cli_send_the_same_photos_synchronously() -> None:
    import math
    import re

    from vista.client import SYNCHRONOUS_MAX_BYTES

    script = (ROOT / "functions" / "vista_app" / "console" / "static" / "api.js").read_text()
    (expression,) = re.findall(r"^export const SYNCHRONOUS_MAX_BYTES = ([\d *]+);$", script, re.M)
    assert math.prod(int(n) for n in expression.split("*")) == SYNCHRONOUS_MAX_BYTES


CONSOLE_ROUTES = [
    ("GET", "/console"),
    ("GET", "/console/console.js"),
    ("GET", "/console/session"),
    ("GET", "/console/api/models"),
    ("GET", "/console/api/predictions"),
    ("POST", "/console/api/predictions"),
    ("POST", "/console/api/training-jobs"),
    ("POST", "/console/api/models/any/promote"),
    ("GET", "/console/api/costs"),
]


def _status(url: str, method: str, cookie: str | None) -> tuple[int, str]:
    from vista.local.console_proxy import NoRedirects

    headers = {"Content-Type": "application/json"} | ({"Cookie": cookie} if cookie else {})
    body = b"{}" if method == "POST" else None
    request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310 (127.0.0.1)
    try:
        with urllib.request.build_opener(NoRedirects).open(request, timeout=30) as answer:
            return answer.status, ""
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location", "")


def test_every_console_route_refuses_a_request_without_a_live_session(stack: Any) -> None:
    from vista_app.sessions import SESSION_COOKIE

    cloud, _, _ = stack
    cognito = boto3.client("cognito-idp")
    # A real token, but from another user pool's client: not this console's.
    other = cognito.create_user_pool(PoolName="elsewhere")["UserPool"]["Id"]
    client = cognito.create_user_pool_client(UserPoolId=other, ClientName="elsewhere")["UserPoolClient"]["ClientId"]
    cognito.admin_create_user(UserPoolId=other, Username="mallory@example.com", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(
        UserPoolId=other, Username="mallory@example.com", Password="Pass-w0rd-1234", Permanent=True
    )
    foreign = cognito.admin_initiate_auth(
        UserPoolId=other,
        ClientId=client,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "mallory@example.com", "PASSWORD": "Pass-w0rd-1234"},
    )["AuthenticationResult"]["AccessToken"]
    live = cloud.console_session()
    for method, path in CONSOLE_ROUTES:
        url = cloud.urls["api"] + path
        for cookie in (None, "theme=dark", f"{SESSION_COOKIE}=forged.token.here", f"{SESSION_COOKIE}={foreign}"):
            # Refused (API Gateway's 401, which the gateway response turns into "go and sign in").
            assert _status(url, method, cookie) == (302, "/v1/console/signin"), (method, path, cookie)
    # A signed-out (globally revoked) session is refused at once, not when it expires.
    assert _status(cloud.urls["api"] + "/console/api/models", "GET", f"{SESSION_COOKIE}={live}")[0] == 200
    cognito.global_sign_out(AccessToken=live)
    assert _status(cloud.urls["api"] + "/console/api/models", "GET", f"{SESSION_COOKIE}={live}") == (
        302,
        "/v1/console/signin",
    )
    # Programs' routes still want SigV4, whatever cookie comes with the request.
    status, _ = _status(cloud.urls["api"] + "/models", "GET", f"{SESSION_COOKIE}={cloud.console_session()}")
    assert status == 403
