"""CloudWatch as Vista's functions use it: the metrics their EMF log lines carry, and the alarms on
them. moto keeps metric data and alarms but extracts and evaluates neither; this module does both.

- Embedded metric format (CloudWatch docs, CloudWatch_Embedded_Metric_Format_Specification): a JSON
  log line whose `_aws.CloudWatchMetrics` holds directives, each a `Namespace`, `Dimensions` (a list
  of dimension sets, each a list of member names whose values are the line's top-level members) and
  `Metrics` (each a `Name`, its value the line's top-level member of that name: a number or an array
  of numbers). CloudWatch Logs extracts each metric once per dimension set.
- Alarm evaluation (CloudWatch docs, AlarmThatSendsEmail, "Evaluating an alarm"): each period of
  `Period` seconds gives the `Statistic` of its datapoints; the alarm is ALARM when `DatapointsToAlarm`
  (default `EvaluationPeriods`) of the last `EvaluationPeriods` periods breach the threshold; a period
  without data is missing and counts as `TreatMissingData` says (notBreaching: not breaching). Here
  every datapoint is evaluated at once, on the period it falls in (CloudWatch takes up to a minute).

Calls go through a session of their own: they are the platform's, not a function's, and are not
held to any function's role.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

STATISTICS: dict[str, Callable[[list[float]], float]] = {
    "Maximum": max,
    "Minimum": min,
    "Sum": sum,
    "Average": lambda values: sum(values) / len(values),
    "SampleCount": len,
}
COMPARISONS = {
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
}
MetricKey = tuple[str, str, frozenset[tuple[str, str]]]


def extract(line: str) -> list[tuple[MetricKey, float, str]]:
    """The metrics of one log line in the embedded metric format: (metric, value, unit) each."""
    try:
        document = json.loads(line)
    except ValueError:
        return []
    if not isinstance(document, dict) or not isinstance(document.get("_aws"), dict):
        return []
    found = []
    for directive in document["_aws"].get("CloudWatchMetrics", []):
        for dimension_set in directive.get("Dimensions", []):
            dimensions = frozenset((name, str(document[name])) for name in dimension_set if name in document)
            for metric in directive.get("Metrics", []):
                value = document.get(metric["Name"])
                values = value if isinstance(value, list) else [value]
                for number in values:
                    if isinstance(number, int | float) and math.isfinite(number):
                        key = (directive["Namespace"], metric["Name"], dimensions)
                        found.append((key, float(number), metric.get("Unit", "None")))
    return found


class LocalCloudWatch:
    def __init__(self, client: Any) -> None:
        self.client = client
        self.datapoints: dict[MetricKey, list[tuple[float, float]]] = defaultdict(list)
        self.lock = threading.RLock()

    def start_alarms(self) -> None:
        """Every alarm as CloudWatch creates it: INSUFFICIENT_DATA until its metric has data (moto's
        start at OK, which would read as a check that passed)."""
        for alarm in self.client.describe_alarms(AlarmTypes=["MetricAlarm"])["MetricAlarms"]:
            self.client.set_alarm_state(
                AlarmName=alarm["AlarmName"],
                StateValue="INSUFFICIENT_DATA",
                StateReason="Unchecked: Initial alarm creation",
            )

    def log_line(self, line: str) -> None:
        """One line a function printed: its EMF metrics stored, and the alarms on them evaluated."""
        metrics = extract(line)
        if not metrics:
            return
        now = time.time()
        with self.lock:
            for key, value, unit in metrics:
                self.datapoints[key].append((now, value))
                namespace, name, dimensions = key
                self.client.put_metric_data(
                    Namespace=namespace,
                    MetricData=[
                        {
                            "MetricName": name,
                            "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(dimensions)],
                            "Value": value,
                            "Unit": unit,
                        }
                    ],
                )
            for key in {key for key, _, _ in metrics}:
                self._evaluate(key, now)

    def _evaluate(self, key: MetricKey, now: float) -> None:
        namespace, name, dimensions = key
        for alarm in self.client.describe_alarms(AlarmTypes=["MetricAlarm"])["MetricAlarms"]:
            wanted = frozenset((d["Name"], d["Value"]) for d in alarm.get("Dimensions", []))
            if (alarm.get("Namespace"), alarm.get("MetricName")) != (namespace, name) or wanted != dimensions:
                continue
            state, reason = self.state(alarm, self.datapoints[key], now)
            if state != alarm["StateValue"]:
                self.client.set_alarm_state(AlarmName=alarm["AlarmName"], StateValue=state, StateReason=reason)

    @staticmethod
    def state(alarm: dict[str, Any], datapoints: list[tuple[float, float]], now: float) -> tuple[str, str]:
        """The alarm's state from its metric's datapoints, over its last EvaluationPeriods periods."""
        period, periods = alarm["Period"], alarm["EvaluationPeriods"]
        needed = alarm.get("DatapointsToAlarm") or periods
        current = int(now // period)
        statistic, breaches = STATISTICS[alarm["Statistic"]], COMPARISONS[alarm["ComparisonOperator"]]
        breaching, seen, figures = 0, 0, []
        for index in range(current - periods + 1, current + 1):
            values = [v for t, v in datapoints if int(t // period) == index]
            if not values:
                breaching += alarm.get("TreatMissingData") == "breaching"
                continue
            seen += 1
            figure = statistic(values)
            figures.append(figure)
            breaching += breaches(figure, alarm["Threshold"])
        if breaching >= needed:
            return "ALARM", f"Threshold crossed: {figures} against {alarm['Threshold']} ({alarm['ComparisonOperator']})"
        if not seen and alarm.get("TreatMissingData", "missing") == "missing":
            return "INSUFFICIENT_DATA", "no datapoints in the evaluation periods"
        return "OK", f"Threshold not crossed: {figures} against {alarm['Threshold']}"
