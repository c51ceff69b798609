"""Thin task entry points of the exercises app (the live runs' worker step is
exercises.run.exercise_runs_process, on a queue of its own)."""

from __future__ import annotations

from django_tasks import task


# On the default queue, not the exercises' one: writing hundreds of exercises must never
# hold up the injects of an exercise being played.
@task()
def regional_exercise_prepare(regional_id: int) -> int:
    """Write the exercise of each establishment of a regional exercise not prepared yet
    (see exercises.regional.regional_preparation_run)."""
    from planblanc.exercises.regional import regional_preparation_run

    return regional_preparation_run(regional_id=regional_id)
