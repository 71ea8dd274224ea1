"""The addresses of the pages of issue 8 (``views/security.py``): your account, break-glass, the
audit report and the security log, a patient's disclosures and requests to amend. Included at
the root without a namespace, so their URL names stay as they are. Patients and requests are
named by UUID only."""

from django.urls import path

from bontrack.web.views import security as views

urlpatterns = [
    path("account/", views.account, name="account"),
    path("account/sessions/<int:session_id>/end", views.end_session, name="end-session"),
    path("account/tokens/<uuid:token_id>/revoke", views.revoke_token, name="revoke-token"),
    path("patients/<uuid:patient_id>/break-glass", views.break_glass, name="break-glass"),
    path("patients/<uuid:patient_id>/disclosures", views.disclosures, name="disclosures"),
    path(
        "patients/<uuid:patient_id>/disclosures.csv",
        views.disclosures_csv,
        name="disclosures-csv",
    ),
    path("patients/<uuid:patient_id>/amendments", views.amendments, name="amendments"),
    path(
        "amendment-requests/<uuid:request_id>/decision",
        views.decide_amendment,
        name="decide-amendment",
    ),
    path("audit/", views.audit_report, name="audit"),
    path("audit/export.csv", views.audit_export, name="audit-csv"),
    path("audit/security/", views.security_log, name="security-log"),
    path("audit/security.csv", views.security_log_export, name="security-log-csv"),
]
