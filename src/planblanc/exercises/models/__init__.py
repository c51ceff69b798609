"""Tables of the exercises app. `design`: the exercise as prepared (scenario injects,
expected reactions, evaluation criteria, participants). `run`: its live run (simulated
clock, state of each inject, observations, evaluation, questionnaire). Import from here,
not from the modules."""

from planblanc.exercises.models.design import (
    Channel,
    CriterionArea,
    EvaluationCriterion,
    Exercise,
    ExerciseStatus,
    ExpectedReaction,
    Inject,
    InjectKind,
    MaturityLevel,
    Participant,
    ParticipantRole,
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
    "DONE_STATES", "HANDLED_STATES", "Channel", "CriterionArea", "EvaluationCriterion", "Exercise", "ExerciseRun",
    "ExerciseStatus", "ExpectedReaction", "Inject", "InjectKind", "InjectRun", "InjectState", "MaturityLevel",
    "Observation", "Outcome", "Participant", "ParticipantRole", "QuestionnaireAnswer", "ReactionCheck", "RunStatus",
    "RegionalExercise", "RegionalExerciseStatus", "RegionalMember",
]
