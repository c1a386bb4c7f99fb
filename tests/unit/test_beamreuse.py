"""Beam's answers kept per object (tft_build.steps.beamreuse) are Beam's own answers; side inputs arrive uncached."""

import gc

import apache_beam as beam
from apache_beam.coders import VarIntCoder
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions, TypeOptions
from apache_beam.runners.portability.fn_api_runner import worker_handlers
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms import userstate
from apache_beam.transforms.core import CallableWrapperDoFn

from tft_build.steps import beamreuse

ORIGINAL_SPECS = userstate.get_dofn_specs
ORIGINAL_VIEW_AS = PipelineOptions.view_as
beamreuse.install()
beamreuse.install()  # twice: still one layer


class Plain(beam.DoFn):
    def process(self, element):
        yield element


COUNT_STATE = beam.DoFn.StateParam(userstate.ReadModifyWriteStateSpec("count", VarIntCoder()))


class Counting(beam.DoFn):
    def process(self, element, count=COUNT_STATE):
        yield element


def test_installed_once():
    assert userstate.get_dofn_specs is not ORIGINAL_SPECS and PipelineOptions.view_as is not ORIGINAL_VIEW_AS
    assert userstate.get_dofn_specs.__wrapped__ is ORIGINAL_SPECS
    assert PipelineOptions.view_as.__wrapped__ is ORIGINAL_VIEW_AS


def test_a_dofns_state_and_timer_specs_are_beams():
    for dofn in (Plain(), Counting(), CallableWrapperDoFn(lambda x: [x])):
        assert userstate.get_dofn_specs(dofn) == ORIGINAL_SPECS(dofn)
        assert userstate.get_dofn_specs(dofn) == ORIGINAL_SPECS(dofn)  # the kept answer
    dofn = Counting()
    states, _ = userstate.get_dofn_specs(dofn)
    states.clear()  # a caller's copy: the kept answer stays whole
    assert userstate.is_stateful_dofn(dofn) and not userstate.is_stateful_dofn(Plain())


def test_views_read_and_write_the_options_as_beams_do():
    options = PipelineOptions(["--runner=FnApiRunner", "--direct_num_workers=2"])
    kept = options.view_as(StandardOptions)
    assert kept is options.view_as(StandardOptions)
    assert kept.runner == ORIGINAL_VIEW_AS(options, StandardOptions).runner == "FnApiRunner"
    assert options.view_as(DirectOptions).direct_num_workers == 2
    kept.runner = "BundleBasedDirectRunner"  # through one view, seen by every view, kept or new
    assert ORIGINAL_VIEW_AS(options, StandardOptions).runner == "BundleBasedDirectRunner"
    assert options.get_all_options()["runner"] == "BundleBasedDirectRunner"
    other = PipelineOptions(["--no_pipeline_type_check"])
    assert other.view_as(StandardOptions) is not kept and other.view_as(StandardOptions).runner is None
    assert other.view_as(TypeOptions).pipeline_type_check is False


def test_an_answer_is_dropped_with_its_object():
    calls = []
    counted = beamreuse.per_object(lambda obj, *key: calls.append((obj, key)) or len(calls))
    first, second = Plain(), Plain()
    assert counted(first, 1) == counted(first, 1) == 1
    assert counted(first, 2) == 2 and counted(second, 1) == 3
    del first
    gc.collect()
    assert counted(Plain(), 1) == 4  # a new object, perhaps at the old one's address: computed anew
    assert [counted(3, 1), counted(3, 1)] == [5, 6]  # no weak reference to an int: nothing kept


def test_side_inputs_arrive_whole_with_the_state_cache_off():
    """Each kind of side input, read by the in-process worker the transform uses, without Beam's cache."""
    assert worker_handlers.STATE_CACHE_SIZE_MB == 0
    options = PipelineOptions(["--runner=FnApiRunner", "--direct_num_workers=1"])
    with beam.Pipeline(options=options) as pipeline:
        numbers = pipeline | "numbers" >> beam.Create(range(3000))
        total = numbers | beam.CombineGlobally(sum)
        names = pipeline | "names" >> beam.Create([("a", 1), ("b", 2)])
        seen = numbers | beam.Map(
            lambda n, total, every, names: (n + total, len(every), names["a"] + names["b"]),
            total=beam.pvalue.AsSingleton(total),
            every=beam.pvalue.AsList(numbers),
            names=beam.pvalue.AsDict(names),
        )
        assert_that(seen, equal_to([(n + 4498500, 3000, 3) for n in range(3000)]))
