"""Tables of the exercises app. `design`: the exercise as prepared (scenario injects,
expected reactions, evaluation criteria, participants). `run`: its live run (simulated
clock, state of each inject, observations, evaluation, questionnaire). Import from here,
not from the modules."""

from planblanc.exercises.models.design import (
    FEED_CHANNELS,
    Channel,
    CriterionArea,
    EvaluationCriterion,
    Exercise,
    ExerciseKind,
    ExerciseStatus,
    ExpectedReaction,
    Inject,
    InjectAttachment,
    InjectKind,
    MarkerKind,
    MaturityLevel,
    Participant,
    ParticipantRole,
    TimelineMarker,
)
from planblanc.exercises.models.regional import (
    RegionalExercise,
    RegionalExerciseStatus,
    RegionalMember,
)
from planblanc.exercises.models.run import (
    DONE_STATES,
    HANDLED_STATES,
    ExerciseRun,
    InjectRun,
    InjectState,
    Observation,
    Outcome,
    QuestionnaireAnswer,
    ReactionCheck,
    RunStatus,
)

__all__ = [
    "DONE_STATES", "FEED_CHANNELS", "HANDLED_STATES", "Channel", "CriterionArea", "EvaluationCriterion", "Exercise",
    "ExerciseKind", "ExerciseRun", "ExerciseStatus", "ExpectedReaction", "Inject", "InjectAttachment", "InjectKind",
    "InjectRun", "InjectState", "MarkerKind", "MaturityLevel", "Observation", "Outcome", "Participant",
    "ParticipantRole", "QuestionnaireAnswer", "ReactionCheck", "RegionalExercise", "RegionalExerciseStatus",
    "RegionalMember", "RunStatus", "TimelineMarker",
]
