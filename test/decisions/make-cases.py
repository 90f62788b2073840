# Regenerates test/decisions/cases/ (the .eml fixtures and the decision each must produce).
# The JSON files are the source of truth once written; edit them directly or change this and rerun.
import json, os, base64
D = __import__("os").path.join(__import__("os").path.dirname(__import__("os").path.abspath(__file__)), "cases")
for f in os.listdir(D): os.remove(os.path.join(D, f))
NEW = 100042
def eml(frm="Ellen Brown <ellen.brown@widget.example>", to="widget-it@mail.4me.com", subject="Printer on floor 3 is broken",
        mid=None, body="Hello.\n", headers=(), date="Mon, 02 Mar 2026 08:30:00 +0000", ctype="text/plain; charset=utf-8", name=""):
    h = [f"From: {frm}", f"To: {to}", f"Subject: {subject}", f"Date: {date}"]
    if mid != "": h.append(f"Message-ID: <{mid or name + '@test.example'}>")
    h += list(headers) + ["MIME-Version: 1.0"]
    if ctype: h.append(f"Content-Type: {ctype}")
    return "\n".join(h) + "\n\n" + body
def case(name, title, expect, message=None, sample=None, **extra):
    c = {"title": title}
    if sample: c["eml"] = f"../../../samples/{sample}.eml"
    else:
        c["eml"] = f"{name}.eml"
        open(os.path.join(D, f"{name}.eml"), "w", newline="\n").write(message if isinstance(message, str) else eml(name=name, **(message or {})))
    c.update(extra); c["expect"] = expect
    json.dump(c, open(os.path.join(D, f"{name}.json"), "w"), indent=2); open(os.path.join(D, f"{name}.json"), "a").write("\n")
REQ = lambda **kw: {"outcome": "request_created", "rule": "create.new_request", "record": {"type": "request", "id": NEW}, **kw}
NOTE = lambda rule, t, i, **kw: {"outcome": "note_added", "rule": rule, "record": {"type": t, "id": i}, **kw}
REJ = lambda rule, **kw: {"outcome": "rejected", "rule": rule, "record": None, **kw}
NAG = "Nagios <nagios@monitoring.widget.example>"
HOW = "Howard Tanner <howard.tanner@widget.example>"

# ---- samples (the demo) ----
S = {
 "01-end-user-request": REQ(request={"subject": "Printer on floor 3 is broken", "category": "other", "status": "assigned", "team": 2001, "requested_by": 1001, "requested_for": 1001, "created_by": 1001, "source": "Email", "sourceID": "demo-01@widget.example", "impact": None, "message_id": "demo-01@widget.example"}, note={"person": 1001, "internal": False}),
 "02-team-address": REQ(request={"team": 2002}),
 "03-html-only": REQ(request={"subject": "Expense tool fails – error 500"}, note={"text": "Hello,\n\nSince this morning the expense tool answers with an error:\n\n * Error 500\n * Only for € amounts\n\nRegards,\nBeatrice"}),
 "04-monitoring-alert": REQ(request={"category": "incident", "impact": "high", "ci": 5002, "service_instance": 4002, "team": 2002, "source": "Nagios", "sourceID": "nagios-7790"}, note={"text": "Host core-switch-1 is DOWN (PING CRITICAL - 100% packet loss)."}, trace=[["defaults.service_instance", "applied"], ["defaults.team", "applied"]]),
 "05-event-new-text": NOTE("match.event", "request", 100003, note={"text": "SMTP CRITICAL - 10 second timeout on port 25"}),
 "06-event-same-text": {"outcome": "unchanged", "rule": "match.event", "record": {"type": "request", "id": 100003}},
 "07-notification-reply": NOTE("match.notification_reply", "request", 100001, note={"person": 1001, "message_id": "demo-07@widget.example"}),
 "08-thread-reply": NOTE("match.thread_reply", "request", 100002, note={"person": 1002}),
 "09-source-sourceid": NOTE("match.source_sourceID", "problem", 100010, note={"text": "Queue length 1843 messages (warning above 1000)."}),
 "10-subject-id": NOTE("match.subject_id", "workflow", 100030),
 "11-subject-id-closed-record": REQ(trace=[["note.final_status", "failed"]]),
 "12-unknown-sender": REJ("reject.unknown_sender", rejection={"template": "email_rejected", "to": "mallory@stranger.example"}),
 "13-unknown-address": REJ("reject.unknown_address"),
 "14-directory-account": REJ("reject.directory_account"),
 "15-new-requests-disabled": REJ("reject.new_requests_disabled"),
 "16-parameters-not-specialist": REQ(request={"impact": None, "team": 2001}, note={"text": "#top\n#team: Servers\n\nI cannot log in to the HR portal."}, trace=[["parameters.ignored", "ignored"]]),
 "17-x4me-from": REQ(request={"requested_by": 1004, "requested_for": 1004, "created_by": 1005}, trace=[["sender.from_override", "applied"]]),
 "18-x4me-from-wrong-secret": REJ("reject.from_override"),
 "19-attachments": REQ(note={"attachments": [{"filename": "scanner-log.pdf", "content_type": "application/pdf", "size": 67}], "inline_images": [{"filename": "screenshot.png", "content_id": "shot1@widget.example"}]}),
 "20-template": REQ(request={"template": 8001, "status": "workflow_pending", "member": 1010, "team": 2003, "category": "order", "requested_for": 1004, "requested_by": 1002, "custom_fields": {"cost_center": "CH999"}, "subject": "New laptop for Beatrice"}),
 "21-bad-parameters": REQ(request={"team": 2001, "impact": None, "desired_completion_at": None, "source": "Nagios"}, warnings=["Backup Heroes", "huge", "next tuesday", "#colour"]),
 "22-support-domain": REQ(request={"account": "acme-hosting", "ci": 5004, "service_instance": 4003, "team": 2005, "category": "incident"}),
 "23-auto-submitted": REJ("reject.unknown_sender", rejection={"to": None}, trace=[["reply.loop_protection", "skipped"]]),
 "24-completed-with-member": REQ(request={"status": "completed", "completion_reason": "workaround", "member": 1003, "ci": 5003, "time_spent": 15, "completed_at": "2026-03-02T09:00:00+00:00"}),
}
for k, v in S.items(): case("sample-" + k, f"sample {k}", v, sample=k)

# ---- routing and sender (issue 2) ----
case("route-alias", "an alias stands for the inbound address", REQ(request={"account": "widget-it"}), {"to": "helpdesk@widget.example"})
case("route-second-domain", "mailDomain may be a list", REQ(), {"to": "widget-it@mail.r-service.tech"})
case("route-delivered-to", "Delivered-To wins over To", REQ(request={"team": 2002}), {"headers": ["Delivered-To: network.widget-it@mail.4me.com"]})
case("route-x-original-to", "X-Original-To wins over To", REQ(request={"team": 2003}), {"headers": ["X-Original-To: servers.widget-it@mail.4me.com"]})
case("route-cc", "the inbound address in Cc", REQ(), {"to": "someone@widget.example", "headers": ["Cc: Widget IT <widget-it@mail.4me.com>"]})
case("route-recipient-option", "--recipient wins over every header", REQ(request={"team": 2002}), {}, args=["--recipient", "network.widget-it@mail.4me.com"])
case("route-local8-env", "ORIGINAL_RECIPIENT from local(8)", REQ(request={"team": 2003}), {}, env={"ORIGINAL_RECIPIENT": "servers.widget-it@mail.4me.com"})
case("route-team-other-account", "a team address of a directory-less account", REQ(request={"account": "acme-hosting", "team": 2005}), {"frm": "Ali <ali@acme-hosting.example>", "to": "ops.acme-hosting@mail.4me.com"})
case("route-unknown-team", "an unknown team local part", REJ("reject.unknown_address"), {"to": "nosuchteam.widget-it@mail.4me.com"})
case("route-foreign-domain", "no inbound address at all", REJ("reject.unknown_address"), {"to": "someone@elsewhere.example"})
case("sender-case-insensitive", "From matched case-insensitively", REQ(request={"requested_by": 1001}), {"frm": "ELLEN.Brown@Widget.EXAMPLE"})
case("sender-other-email", "other email after primary", REQ(request={"requested_by": 1001}, trace=[["sender.primary_email", "not_matched"], ["sender.other_email", "matched"]]), {"frm": "e.brown@widget.example"})
case("sender-disabled", "a disabled person is no sender", REJ("reject.unknown_sender", trace=[["sender.disabled", "matched"]]), {"frm": "dan.oldham@widget.example"})
case("sender-auto-create", "auto-create people when the policy says so", REQ(request={"requested_by": 1011}, person={"id": 1011, "account": "widget-it", "name": "New Person", "primary_email": "new.person@elsewhere.example"}),
     {"frm": "New Person <new.person@elsewhere.example>"}, store=[{"path": "accounts[id=widget-it].email_policy.auto_create_people", "value": True}])
case("sender-other-account", "a person of an unrelated account is unknown", REJ("reject.unknown_sender"), {"frm": "ali@acme-hosting.example"})
case("new-subject-only", "only a subject: request without a note", REQ(request={"subject": "Just a subject"}, no_note=True), {"subject": "Just a subject", "body": ""})
case("new-no-subject", "no subject at all", REQ(request={"subject": "(no subject)"}), {"subject": ""})
case("new-qp-latin1", "quoted-printable latin-1 decoded", REQ(note={"text": "Café crème für Jürgen"}), {"ctype": "text/plain; charset=iso-8859-1", "headers": ["Content-Transfer-Encoding: quoted-printable"], "body": "Caf=E9 cr=E8me f=FCr J=FCrgen\n"})
case("new-no-message-id", "no Message-ID: sourceID empty, request still created", REQ(request={"sourceID": None, "message_id": None}), {"mid": ""})
case("new-alternative", "multipart/alternative takes the text part", REQ(note={"text": "Plain version"}),
     {"ctype": 'multipart/alternative; boundary="b"', "body": '--b\nContent-Type: text/plain\n\nPlain version\n--b\nContent-Type: text/html\n\n<p>HTML version</p>\n--b--\n'})

# ---- parameters (issue 3) ----
def P(name, title, params, expect, frm=NAG, body="Alert text.", subject=None, **extra):
    case(name, title, expect, {"frm": frm, "body": "\n".join(params) + "\n\n" + body + "\n", "subject": subject or f"Alert {name}"}, **extra)
P("param-category", "#category: rfc", ["#category: rfc"], REQ(request={"category": "rfc", "impact": None}))
P("param-category-shortcut", "#rfi shortcut", ["#rfi"], REQ(request={"category": "rfi"}))
P("param-category-bad", "unknown category", ["#category: wish"], REQ(request={"category": "other"}, warnings=["'wish' is not an option of category"]))
P("param-impact", "#impact: low with incident", ["#incident", "#impact: low"], REQ(request={"category": "incident", "impact": "low"}))
P("param-impact-shortcut", "#medium", ["#medium"], REQ(request={"impact": "medium", "category": "other"}))
P("param-impact-default-top", "incident without impact → top", ["#incident"], REQ(request={"impact": "top"}, trace=[["defaults.impact", "applied"]]))
P("param-status", "#status: in_progress: member = sender", ["#status: in_progress"], REQ(request={"status": "in_progress", "member": 1002, "team": 2001}), frm=HOW)
P("param-status-shortcut", "#on_backlog needs no member", ["#on_backlog"], REQ(request={"status": "on_backlog", "member": None}))
P("param-declined", "#declined sets the status", ["#declined"], REQ(request={"status": "declined", "completion_reason": None}))
P("param-completion-reason", "#completion_reason: gone with #completed", ["#completed", "#completion_reason: gone"], REQ(request={"status": "completed", "completion_reason": "gone"}))
P("param-completion-reason-not-completed", "completion reason needs completed", ["#workaround"], REQ(request={"status": "assigned", "completion_reason": None}, warnings=["only when the status is completed"]))
P("param-status-bad", "bad status", ["#status: sleeping"], REQ(request={"status": "assigned"}, warnings=["'sleeping'"]))
P("param-ci-label", "#ci by label", ["#ci: CMP00001"], REQ(request={"ci": 5001, "service_instance": 4001, "category": "incident", "impact": "top", "team": 2001}))
P("param-ci-software-name", "#ci software CI by name", ["#ci: Outlook"], REQ(request={"ci": 5003, "service_instance": 4001}))
P("param-ci-id", "#ci_id", ["#ci_id: 5002"], REQ(request={"ci": 5002, "service_instance": 4002, "team": 2002}))
P("param-ci-source", "#ci_source + #ci_sourceID", ["#ci_source: SCCM", "#ci_sourceID: sw-1"], REQ(request={"ci": 5002}))
P("param-ci-sourceid-only", "#ci_sourceID alone", ["#ci_sourceID: srv-1"], REQ(request={"ci": 5001}))
P("param-ci-unknown", "unknown CI ignored", ["#ci: CMP99999"], REQ(request={"ci": None, "category": "other"}, warnings=["CMP99999"]))
P("param-ci-other-account", "CI of another account without qualifier", ["#ci: ACM00001"], REQ(request={"ci": None}, warnings=["ACM00001"]))
P("param-service-instance", "#service_instance by name → first line team", ["#service_instance: Mail Service"], REQ(request={"service_instance": 4001, "category": "incident", "team": 2001}))
P("param-service-instance-sender-in-first-line", "sender in the first line team → support team", ["#service_instance: Mail Service"], REQ(request={"service_instance": 4001, "team": 2003}), frm=HOW)
P("param-service-instance-id", "#service_instance_id, no first line team → support team", ["#service_instance_id: 4002"], REQ(request={"service_instance": 4002, "team": 2002}))
P("param-team", "#team by name", ["#team: Servers"], REQ(request={"team": 2003}))
P("param-team-id", "#team_id", ["#team_id: 2002"], REQ(request={"team": 2002}))
P("param-team-invalid-default", "invalid team → default team", ["#team_id: 2004"], REQ(request={"team": 2001}, warnings=["names no team"]))
P("param-member", "#member → the member's team", ["#member: sam.servers@widget.example"], REQ(request={"member": 1008, "team": 2003}))
P("param-member-id", "#member_id", ["#member_id: 1007"], REQ(request={"member": 1007, "team": 2002}))
P("param-member-not-specialist", "an end user is no valid member", ["#member: ellen.brown@widget.example", "#in_progress"], REQ(request={"member": 1003, "status": "in_progress"}, warnings=["not a Specialist"]))
P("param-requested-for-analyst", "#requested_for by a Service Desk Analyst", ["#requested_for: beatrice.baldwin@widget.example"], REQ(request={"requested_for": 1004, "requested_by": 1002, "created_by": 1002}), frm=HOW)
P("param-requested-for-id", "#requested_for_id", ["#requested_for_id: 1004"], REQ(request={"requested_for": 1004}), frm=HOW)
P("param-requested-for-not-analyst", "#requested_for needs the Service Desk Analyst role", ["#requested_for: beatrice.baldwin@widget.example"], REQ(request={"requested_for": 1003}, trace=[["parameters.requested_for", "ignored"]]))
P("param-supplier", "#supplier + #supplier_requestID", ["#supplier: Acme Hosting", "#supplier_requestID: ACME-77"], REQ(request={"supplier": 3001, "supplier_requestID": "ACME-77"}))
P("param-supplier-id", "#supplier_id", ["#supplier_id: 3001"], REQ(request={"supplier": 3001}))
P("param-problem-workflow", "#problem_id and #workflow_id", ["#problem_id: 100010", "#workflow_id: 100030"], REQ(request={"problem": 100010, "workflow": 100030}))
P("param-problem-unknown", "unknown problem", ["#problem_id: 100001"], REQ(request={"problem": None}, warnings=["names no problem"]))
P("param-datetimes", "datetime parameters normalised", ["#desired_completion_at: 2026-03-05T17:00:00+01:00", "#downtime_start_at: 2026-03-02T07:55:00Z", "#downtime_end_at: 2026-03-02 08:40", "#waiting_for", "#waiting_until: 2026-03-09"],
  REQ(request={"desired_completion_at": "2026-03-05T16:00:00+00:00", "downtime_start_at": "2026-03-02T07:55:00+00:00", "downtime_end_at": "2026-03-02T08:40:00+00:00", "waiting_until": "2026-03-09T00:00:00+00:00", "status": "waiting_for"}))
P("param-datetime-bad", "an impossible date", ["#downtime_start_at: 2026-02-30T10:00:00Z"], REQ(request={"downtime_start_at": None}, warnings=["is not a datetime"]))
P("param-time-spent", "#time_spent", ["#time_spent: 45"], REQ(request={"time_spent": 45}))
P("param-time-spent-bad", "#time_spent not a number", ["#time_spent: an hour"], REQ(request={"time_spent": None}, warnings=["minutes"]))
P("param-internal-markdown", "#internal and #markdown flags on the note", ["#internal", "#markdown"], REQ(note={"internal": True, "markdown": True, "text": "Alert text."}))
P("param-custom-fields", "custom fields", ["#custom_field_service_team: SAP Basis Support", "#custom_field_cost_center: CH999"], REQ(request={"custom_fields": {"service_team": "SAP Basis Support", "cost_center": "CH999"}}))
P("param-template", "template without workflow; parameters overwrite", ["#template_id: 8002", "#high"], REQ(request={"template": 8002, "category": "rfi", "impact": "high", "team": 2001, "status": "assigned", "custom_fields": {"channel": "email"}, "subject": "Reset please"}), subject="Reset please")
P("param-template-unknown", "unknown template", ["#template_id: 9999"], REQ(request={"template": None}, warnings=["9999"]))
P("param-source-sourceid", "#source and #sourceID stored", ["#source: Zabbix", "#sourceID: Z-1"], REQ(request={"source": "Zabbix", "sourceID": "Z-1"}))
P("param-unknown", "unknown parameter", ["#colour: red"], REQ(warnings=["unknown parameter #colour ignored"]))
P("param-case-insensitive", "names are case-insensitive", ["#Category: RFC", "#SOURCEID: X-9", "#Source: Zabbix"], REQ(request={"category": "rfc", "sourceID": "X-9", "source": "Zabbix"}))
P("param-lines-not-in-note", "honoured parameter lines never in the note", ["#incident", "#source: Zabbix"], REQ(note={"text": "Alert text."}))
P("param-support-domain-refused", "#support_domain needs the Specialist role there", ["#support_domain: acme-hosting"], REQ(request={"account": "widget-it"}, warnings=["not a Specialist of acme-hosting"], trace=[["parameters.account", "failed"]]), frm=HOW)
P("param-support-domain-unknown", "#support_domain of no account", ["#support_domain: nowhere"], REQ(request={"account": "widget-it"}, warnings=["does not exist"]))
P("param-qualifier-refused", "@account qualifier needs the Specialist role there", ["#ci: ACM00001 @acme-hosting"], REQ(request={"ci": None}, warnings=["not a Specialist of acme-hosting"], trace=[["parameters.account", "failed"]]), frm=HOW)
P("param-qualifier-ok", "@account qualifier links a CI of another account", ["#ci: ACM00001 @acme-hosting"], REQ(request={"ci": 5004, "service_instance": 4003, "account": "widget-it"}))
P("param-qualifier-team", "team of another account by qualifier", ["#team: Acme Operations @acme-hosting"], REQ(request={"team": 2005}))
P("param-qualifier-unknown-account", "@account that does not exist", ["#team: Servers @nowhere"], REQ(request={"team": 2001}, warnings=["nowhere"]))
P("param-member-email-not-qualifier", "an email value is not a qualifier", ["#member: nina.network@widget.example"], REQ(request={"member": 1007}))

# ---- matching (issue 4) ----
M = lambda **kw: {"frm": HOW, "subject": "Update", "body": "An update.\n", **kw}
case("match-notification-workflow-task", "reply to a notification of a workflow task", NOTE("match.notification_reply", "workflow_task", 100031), M(headers=["In-Reply-To: <notify-100031-1@mail.4me.com>"]))
case("match-notification-references-only", "notification found in References only", NOTE("match.notification_reply", "request", 100001), {"headers": ["References: <x1@widget.example> <notify-100001-1@mail.4me.com> <x2@widget.example>"]})
case("match-notification-no-access", "no access → new request, trace says why", REQ(trace=[["note.access", "failed"]]), {"headers": ["In-Reply-To: <notify-wf@mail.4me.com>"]},
     store=[{"push": "notifications", "value": {"message_id": "notify-wf@mail.4me.com", "record": {"type": "workflow", "id": 100030}, "to": "ellen.brown@widget.example", "sent_at": "2026-03-01T00:00:00+00:00"}}])
case("match-allow-replies-off", "'Allow replies to be added as notes' off → new request", REQ(trace=[["match.allow_replies", "skipped"]]), {"headers": ["In-Reply-To: <notify-100001-1@mail.4me.com>"]},
     store=[{"path": "accounts[id=widget-it].email_policy.allow_replies_as_notes", "value": False}])
case("match-thread-references-several", "thread reply found among several References", NOTE("match.thread_reply", "request", 100002), M(headers=["References: <a@x.example> <demo-thread-1@widget.example> <b@x.example>"]))
case("match-thread-of-note", "reply to a message that was added as a note", NOTE("match.thread_reply", "request", 100001), {"headers": ["In-Reply-To: <vpn-1@widget.example>"]})
case("match-thread-completed-long-ago", "thread of a request completed long ago → new request", REQ(trace=[["note.final_status", "failed"]]), {"headers": ["In-Reply-To: <old-1@widget.example>"]},
     store=[{"path": "requests[id=100004].message_id", "value": "old-1@widget.example"}])
case("match-final-recent-visible-note", "completed long ago but a recent visible note → matched", NOTE("match.subject_id", "request", 100004), {"subject": "Re: 100004 Monitor flickering"},
     store=[{"push": "notes", "value": {"id": 900100, "record": {"type": "request", "id": 100004}, "person": 1002, "text": "Any news?", "internal": False, "markdown": False, "created_at": "2026-02-25T10:00:00+00:00", "message_id": None, "attachments": [], "inline_images": []}}])
case("match-final-recent-internal-note", "a recent internal note does not count", REQ(), {"subject": "Re: 100004 Monitor flickering"},
     store=[{"push": "notes", "value": {"id": 900100, "record": {"type": "request", "id": 100004}, "person": 1002, "text": "internal", "internal": True, "markdown": False, "created_at": "2026-02-25T10:00:00+00:00", "message_id": None, "attachments": [], "inline_images": []}}])
case("match-final-within-days", "completed 10 days ago → matched", NOTE("match.subject_id", "request", 100004), {"subject": "Re: 100004 Monitor flickering"},
     store=[{"path": "requests[id=100004].completed_at", "value": "2026-02-20T09:00:00+00:00"}])
SRC = [("request", 100003, "requests", "nagios-7781", None), ("release", 100020, "releases", "REL-1", "releases[id=100020]"), ("workflow", 100030, "workflows", "WF-1", "workflows[id=100030]"),
       ("workflow_task", 100031, "workflow_tasks", "WT-1", "workflow_tasks[id=100031]"), ("project", 100040, "projects", "PRJ-1", "projects[id=100040]"), ("project_task", 100041, "project_tasks", "PT-1", "project_tasks[id=100041]")]
for t, i, coll, sid, sel in SRC:
    store = [] if not sel else [{"path": f"{sel}.source", "value": "Nagios"}, {"path": f"{sel}.sourceID", "value": sid}]
    P(f"match-source-{t.replace('_', '-')}", f"#source/#sourceID → {t}", ["#source: Nagios", f"#sourceID: {sid}"], NOTE("match.source_sourceID", t, i, note={"text": "Alert text."}), store=store)
P("match-source-order", "request tried before problem", ["#source: Nagios", "#sourceID: PRB-42"], NOTE("match.source_sourceID", "request", 100003),
  store=[{"path": "requests[id=100003].sourceID", "value": "PRB-42"}])
P("match-source-problem-solved-long-ago", "problem solved long ago → next rule, new request", ["#source: Nagios", "#sourceID: PRB-42"], REQ(request={"sourceID": "PRB-42"}, trace=[["note.final_status", "failed"]]),
  store=[{"path": "problems[id=100010].status", "value": "solved"}, {"path": "problems[id=100010].solved_at", "value": "2025-12-01T00:00:00+00:00"}])
P("match-source-not-specialist", "#source/#sourceID from a non-specialist are ignored", ["#source: Nagios", "#sourceID: PRB-42"], REQ(request={"source": "Email"}, trace=[["parameters.ignored", "ignored"], ["match.source_sourceID", "not_matched"]]), frm="Ellen <ellen.brown@widget.example>")
P("match-source-without-sourceid", "#source alone is no match", ["#source: Nagios"], REQ(trace=[["match.source_sourceID", "not_matched"]]))
for t, i, frm in [("problem", 100010, HOW), ("release", 100020, HOW), ("workflow-task", 100031, "ellen.brown@widget.example"), ("project", 100040, HOW), ("project-task", 100041, "ellen.brown@widget.example")]:
    case(f"match-subject-{t}", f"ID in the subject → {t}", NOTE("match.subject_id", t.replace("-", "_"), i), {"frm": frm, "subject": f"About {i} please"})
case("match-subject-hash-dot", "#100001. matches (word break)", NOTE("match.subject_id", "request", 100001), {"subject": "Re: #100001. VPN"})
case("match-subject-five-digits", "5 digits never match", REQ(), {"subject": "Re: 10000 VPN"})
case("match-subject-letter-prefix", "a letter prefix never matches", REQ(), {"subject": "Re: REQ100001 VPN"})
case("match-subject-digit-suffix-letters", "followed by letters never matches", REQ(), {"subject": "Re: 100001abc VPN"})
case("match-subject-several", "the next number is tried when the first names nothing", NOTE("match.subject_id", "request", 100001), {"subject": "Ticket 999999 and 100001"})
case("match-subject-policy-off", "'Match on ID in subject' off", REQ(trace=[["match.subject_id", "skipped"]]), {"subject": "Re: 100001 VPN"},
     store=[{"path": "accounts[id=widget-it].email_policy.match_id_in_subject", "value": False}])
case("match-subject-other-account", "an ID of another account's record does not match", REQ(), {"subject": "Re: 100001 VPN"},
     store=[{"path": "requests[id=100001].account", "value": "acme-hosting"}])
EV = ["#source: Nagios", "#ci: CMP00001"]
P("event-expired", "more than 24 hours after creation → new request", EV, REQ(request={"ci": 5001}, trace=[["match.event", "not_matched"]]), body="SMTP CRITICAL - connection refused on port 25", args=["--now", "2026-03-03T07:30:01+00:00"])
P("event-exactly-24h", "exactly 24 hours after → still matched", EV, {"outcome": "unchanged", "rule": "match.event", "record": {"type": "request", "id": 100003}}, body="SMTP CRITICAL - connection refused on port 25", args=["--now", "2026-03-03T07:30:00+00:00"])
P("event-closed-request", "a completed request is not open → new request", EV, REQ(), body="SMTP CRITICAL - connection refused on port 25",
  store=[{"path": "requests[id=100003].status", "value": "completed"}, {"path": "requests[id=100003].completed_at", "value": "2026-03-02T08:00:00+00:00"}])
P("event-other-ci", "another CI is another event", ["#source: Nagios", "#ci: Outlook"], REQ(request={"ci": 5003}))
P("event-other-source", "another source is another event", ["#source: Zabbix", "#ci: CMP00001"], REQ())
P("event-blank-body", "same event, blank body, no attachments → unchanged", EV, {"outcome": "unchanged", "rule": "match.event", "record": {"type": "request", "id": 100003}}, body="")
case("event-attachment-same-text", "same text with an attachment → note", NOTE("match.event", "request", 100003, note={"attachments": [{"filename": "graph.txt"}]}),
     {"frm": NAG, "subject": "PROBLEM", "ctype": 'multipart/mixed; boundary="b"', "body": "--b\nContent-Type: text/plain\n\n#source: Nagios\n#ci: CMP00001\n\nSMTP CRITICAL - connection refused on port 25\n--b\nContent-Type: text/plain\nContent-Disposition: attachment; filename=\"graph.txt\"\n\n1 2 3\n--b--\n"})
P("event-without-ci-same", "no #ci: same subject and note → unchanged", ["#source: Nagios"], {"outcome": "unchanged", "rule": "match.event_without_ci", "record": {"type": "request", "id": 100005}}, subject="Disk full on fs1", body="Disk / is 99% full",
  store=[{"push": "requests", "value": {"id": 100005, "account": "widget-it", "subject": "Disk full on fs1", "category": "other", "impact": None, "status": "assigned", "completion_reason": None, "team": 2001, "member": None, "requested_by": 1003, "requested_for": 1003, "created_by": 1003, "service_instance": None, "ci": None, "source": "Nagios", "sourceID": "x", "template": None, "workflow": None, "problem": None, "supplier": None, "supplier_requestID": None, "desired_completion_at": None, "downtime_start_at": None, "downtime_end_at": None, "waiting_until": None, "time_spent": None, "custom_fields": {}, "created_at": "2026-03-02T06:00:00+00:00", "updated_at": "2026-03-02T06:00:00+00:00", "completed_at": None, "message_id": None}},
         {"push": "notes", "value": {"id": 900100, "record": {"type": "request", "id": 100005}, "person": 1003, "text": "Disk / is 99% full", "internal": False, "markdown": False, "created_at": "2026-03-02T06:00:00+00:00", "message_id": None, "attachments": [], "inline_images": []}}])
for f in ["event-without-ci-same"]:
    pass
c = json.load(open(os.path.join(D, "event-without-ci-same.json")))
P("event-without-ci-other-text", "no #ci: other text → new request", ["#source: Nagios"], REQ(request={"id": 100042}), subject="Disk full on fs1", body="Disk / is 95% full", store=c["store"])
P("event-without-ci-other-subject", "no #ci: other subject → new request", ["#source: Nagios"], REQ(), subject="Disk full on fs2", body="Disk / is 99% full", store=c["store"])

# ---- mail from the mail system (bounces) ----
DSN_BODY = '--b\nContent-Type: text/plain\n\nThis is the mail system at host mx.\n--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx\n\nFinal-Recipient: rfc822; x@y.example\nAction: failed\nStatus: 5.1.1\n--b--\n'
case("bounce-dsn", "a delivery status notification is no request, and gets no reply", REJ("reject.mail_system", rejection={"to": None}, trace=[["sender.mail_system", "matched"]]),
     {"frm": "Mail Delivery System <MAILER-DAEMON@mx.widget.example>", "subject": "Undelivered Mail Returned to Sender", "ctype": 'multipart/report; report-type=delivery-status; boundary="b"', "body": DSN_BODY},
     store=[{"path": "accounts[id=widget-it].email_policy.auto_create_people", "value": True}])
case("bounce-null-sender", "a null envelope sender is a bounce", REJ("reject.mail_system", rejection={"to": None}), {"subject": "Returned mail"}, args=["--sender", ""])
case("bounce-mailer-daemon", "From MAILER-DAEMON is no request even when people are auto-created", REJ("reject.mail_system", rejection={"to": None}), {"frm": "MAILER-DAEMON@mx.widget.example", "subject": "failure notice"},
     store=[{"path": "accounts[id=widget-it].email_policy.auto_create_people", "value": True}])
