"""Tables of the crisis app. `console`: the crisis, its logbook (main courante), decisions,
tasks, status board and damage assessment. `reporting`: what the crisis reports and
learns — regulatory notifications, indicators of compromise, communication drafts and
improvement actions (retex). Import from here, not from the modules."""

from planblanc.crisis.models.console import (
    DAMAGE_QUESTIONS,
    GENESIS_HASH,
    OPEN_TASK_STATUSES,
    Answer,
    Crisis,
    CrisisKind,
    CrisisStatus,
    CrisisTask,
    DamageAssessment,
    DamageAssessmentRevision,
    Decision,
    DepartmentState,
    DepartmentStatus,
    EntryKind,
    LogbookAttachment,
    LogbookEntry,
    LogbookTimestamp,
    Severity,
    StatusChange,
    SystemState,
    SystemStatus,
    TaskSource,
    TaskStatus,
)
from planblanc.crisis.models.reporting import (
    CommunicationDraft,
    CommunicationStatus,
    ImprovementAction,
    ImprovementStatus,
    Indicator,
    IndicatorKind,
    NotificationKind,
    RegulatoryNotification,
    Tlp,
)
from planblanc.crisis.models.situation import SituationSubscriber, StaffSituation

__all__ = [
    "DAMAGE_QUESTIONS", "GENESIS_HASH", "OPEN_TASK_STATUSES", "Answer", "CommunicationDraft", "CommunicationStatus", "Crisis",
    "CrisisKind", "CrisisStatus", "CrisisTask", "DamageAssessment", "DamageAssessmentRevision", "Decision",
    "DepartmentState", "DepartmentStatus", "EntryKind", "ImprovementAction", "ImprovementStatus", "Indicator",
    "IndicatorKind", "LogbookAttachment", "LogbookEntry", "LogbookTimestamp", "NotificationKind",
    "RegulatoryNotification", "Severity", "StatusChange", "SystemState", "SystemStatus", "TaskSource",
    "TaskStatus", "Tlp", "StaffSituation", "SituationSubscriber",
]
