"""The pages' addresses. Patients, sessions, lots and vials are named by UUID only."""

from django.urls import path

from bontrack.web.views import auth, inventory, patients, plans, sessions, today

app_name = "web"

urlpatterns = [
    path("", today.today, name="today"),
    path("login/", auth.SignInView.as_view(), name="login"),
    path("logout/", auth.sign_out, name="logout"),
    path("clinic/", auth.choose_clinic, name="choose-clinic"),
    path("patients/", patients.patient_list, name="patients"),
    path("patients/<uuid:patient_id>/", patients.patient_detail, name="patient"),
    path("patients/<uuid:patient_id>/consents", patients.add_consent, name="add-consent"),
    path("patients/<uuid:patient_id>/plan", patients.new_plan, name="new-plan"),
    path("sessions/<uuid:session_id>/", sessions.session_page, name="session"),
    path("sessions/<uuid:session_id>/workspace", plans.workspace, name="workspace"),
    path("sessions/<uuid:session_id>/points/<int:n>", plans.point_form, name="point-form"),
    path("sessions/<uuid:session_id>/points/<int:n>/change", plans.point_change, name="point"),
    path("sessions/<uuid:session_id>/points/add", plans.point_add, name="point-add"),
    path("sessions/<uuid:session_id>/protocol", plans.protocol_load, name="protocol"),
    path("sessions/<uuid:session_id>/time", plans.set_time, name="time"),
    path("sessions/<uuid:session_id>/vials", plans.vial_choice, name="vials"),
    path("sessions/<uuid:session_id>/vials/open", plans.vial_open, name="vial-open"),
    path("sessions/<uuid:session_id>/decisions", plans.decide, name="decide"),
    path("sessions/<uuid:session_id>/sign", plans.sign, name="sign"),
    path("sessions/<uuid:session_id>/note", sessions.note, name="note"),
    path("sessions/<uuid:session_id>/note.pdf", sessions.note_pdf, name="note-pdf"),
    path("sessions/<uuid:session_id>/co-sign", sessions.co_sign, name="co-sign"),
    path("sessions/<uuid:session_id>/adverse-event", sessions.adverse_event, name="adverse-event"),
    path("inventory/", inventory.inventory_page, name="inventory"),
    path("inventory/lots", inventory.receive_lot, name="receive-lot"),
    path("inventory/lots/<uuid:lot_id>/", inventory.lot_detail, name="lot"),
    path("inventory/lots/<uuid:lot_id>/recall", inventory.lot_recall, name="recall"),
    path(
        "inventory/lots/<uuid:lot_id>/exposures.csv",
        inventory.lot_exposures_csv,
        name="exposures-csv",
    ),
    path(
        "inventory/vials/<uuid:vial_id>/reconstitute",
        inventory.vial_reconstitute,
        name="reconstitute",
    ),
    path("inventory/vials/<uuid:vial_id>/waste", inventory.vial_waste, name="waste"),
]
