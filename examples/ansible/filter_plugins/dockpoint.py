"""dockpoint_failures: what failed in a `dockpoint setup --format json`
report, in dockpoint's own words: each failed step, then each failed
doctor check with its fix."""


def dockpoint_failures(report):
    out = []
    for step in report.get("steps", []):
        if step.get("status") == "failed":
            out.append("setup step {0}: {1}".format(step.get("id"), step.get("message")))
    doctor = report.get("doctor") or {}
    for check in doctor.get("checks", []):
        if check.get("status") in ("fail", "error"):
            line = "doctor {0}: {1}".format(check.get("id"), check.get("message"))
            if check.get("fix"):
                line += " (fix: {0})".format(check["fix"])
            out.append(line)
    return out


class FilterModule(object):
    def filters(self):
        return {"dockpoint_failures": dockpoint_failures}
