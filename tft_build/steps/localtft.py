"""tf.Transform's analysis run in this process without Beam: TFT's own nodes and combiners, Beam's order.

tf.Transform turns a ``preprocessing_fn`` into a graph of nodes, its analysis
graph: apply a phase's graph to the data, accumulate each analyzer's inputs,
merge the accumulators, bind the results into the next phase's graph, and so
on to the final transform graph. Its Beam package gives each kind of node a
PTransform. On Beam's local runner that costs seconds whatever the data's
size (building the pipeline, translating and fusing it into dozens of
stages, every element through a coder between them), several times the work
itself on a data set that fits in memory, as the default one does.

Here each kind of node is a function from lists to lists (a PCollection held
as the list of its elements) that calls what Beam's PTransform calls, TFT's
own DoFns and CombineFns, in the order in which Beam's FnApiRunner calls them
in one process: one bundle, each combine lifted (the inputs added to one
accumulator, compacted, through the coder, merged, extracted), a hot-key
fanout's accumulator merged into a fresh one. So the transform graph, the
vocabularies and every number bound into the graph are the ones Beam's
runner computes, byte for byte (``tests/e2e/test_transform_engine.py`` compares the
two on pipelines with every analyzer this module runs).

Kinds of nodes, or options of them, that this module does not run (per-key
combiners, vocabularies ordered by mutual information or weights, gzipped
vocabularies, the analyzer cache, PTransform analyzers, TF2 tracing) make
:func:`plan` raise :class:`Unsupported` before anything runs; the caller then
runs the pipeline through Beam.
"""

import collections
import copy
import hashlib
import math
import os
import pickle
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
import numpy as np
import pyarrow as pa
import tensorflow as tf
import tensorflow_transform.beam as tft_beam
from apache_beam.utils import shared
from tensorflow_transform import analyzer_nodes, analyzers, annotators, impl_helper, nodes, tf_utils
from tensorflow_transform.beam import analysis_graph_builder, analyzer_impls, beam_nodes, common, impl
from tensorflow_transform.tf_metadata import dataset_metadata
from tfx_bsl.tfxio import tensor_adapter

from tft_build.engine.trace import traced

TF_CONFIG = impl._FIXED_PARALLELISM_TF_CONFIG  # what TFT gives the sessions on Beam's local runners
Run = Callable[[Any, list[list[Any]], "Analysis"], tuple[list[Any], ...]]


class Unsupported(Exception):
    """The analysis graph has a node (or an option of one) that only Beam runs here."""


@dataclass(frozen=True)
class Plan:
    """A traced ``preprocessing_fn`` and its analysis graph, checked runnable here."""

    graph: tf.Graph
    input_signature: Mapping[str, Any]
    adapter_config: Any  # tfxio.TensorAdapterConfig: how record batches become the graph's inputs
    base_temp_dir: str
    transform_fn: nodes.ValueNode  # the analysis graph's result: the transform_fn's dir
    side_effects: Sequence[nodes.ValueNode]
    asset_map: Mapping[str, str]  # vocabulary file -> its key (TFT's asset annotations)


@dataclass(frozen=True)
class Analysis:
    """What the nodes of one analysis read besides their inputs: the plan and the data."""

    plan: Plan
    batches: Sequence[pa.RecordBatch]


@traced
def plan(preprocessing_fn: Callable[[Mapping[str, tf.Tensor]], dict[str, tf.Tensor]], adapter_config: Any) -> Plan:
    """Trace ``preprocessing_fn`` in TF1 graph mode and build its analysis graph, as TFT's AnalyzeDataset
    does; :class:`Unsupported` when a node is one this module does not run.

    Call within a ``tft_beam.Context`` (its temp dir and TF1 mode are read here).
    """
    if not tft_beam.Context.get_use_tf_compat_v1():
        raise Unsupported("preprocessing_fn traced in TF2 mode")
    base_temp_dir = tft_beam.Context.create_base_temp_dir()
    specs = tensor_adapter.TensorAdapter(adapter_config).OriginalTypeSpecs()
    graph, inputs, outputs = impl_helper.trace_preprocessing_function(preprocessing_fn, specs, True, base_temp_dir)
    if not isinstance(outputs, dict) or not outputs:
        raise Unsupported("preprocessing_fn that returns no features")  # Beam's error says what is wrong
    if graph.get_collection(tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES):
        raise Unsupported("preprocessing_fn with trainable variables")
    asset_map = annotators.get_asset_annotations(graph)
    annotators.clear_asset_annotations(graph)  # as TFT's AnalyzeDataset does, before building the analysis
    transform_fn, _, side_effects = analysis_graph_builder.build(graph, inputs, outputs, [], cache_dict=None)
    checker = nodes.Traverser(Checker())
    for value in (transform_fn, *side_effects):
        checker.visit_value_node(value)
    return Plan(graph, inputs, adapter_config, base_temp_dir, transform_fn, side_effects, asset_map)


@traced
def analyze(planned: Plan, batches: Sequence[pa.RecordBatch]) -> tuple[str, dataset_metadata.DatasetMetadata]:
    """Run the analysis on ``batches``: the dir of the transform_fn SavedModel it wrote, and the transformed
    data's metadata (the schema TFT infers, with the domains that depend on the analyzers' results)."""
    evaluator = nodes.Traverser(Evaluator(Analysis(planned, batches)))
    (transform_fn_dir,) = evaluator.visit_value_node(planned.transform_fn)
    for value in planned.side_effects:
        evaluator.visit_value_node(value)
    return transform_fn_dir, impl._infer_metadata_from_saved_model(transform_fn_dir, True)


class Transformer:
    """The transform_fn applied to record batches: ``(record batch, passthrough columns)`` of each, as TFT's
    TransformDataset (``output_record_batches=True``) makes them, from one TF session for every call."""

    def __init__(self, transform_fn_dir: str, metadata: dataset_metadata.DatasetMetadata, adapter_config: Any):
        self.transform_fn_dir = transform_fn_dir
        self.adapter_config = adapter_config
        self.converter = impl_helper.make_tensor_to_arrow_converter(metadata.schema)
        self.run = graph_runner(adapter_config)

    def __call__(self, batches: Iterable[pa.RecordBatch]) -> Iterator[tuple[pa.RecordBatch, dict[str, pa.Array]]]:
        passthrough = tft_beam.Context.get_passthrough_keys()
        for outputs in applied(self.run, batches, self.transform_fn_dir):
            yield from impl._convert_to_record_batch(outputs, self.converter, passthrough, self.adapter_config, False)


def graph_runner(adapter_config: Any) -> impl._RunMetaGraphDoFn:
    """TFT's DoFn that runs a graph it saved on record batches (its TF session made at the first batch)."""
    run = impl._RunMetaGraphDoFn(
        TF_CONFIG, shared_graph_state_handle=shared.Shared(),
        passthrough_keys=tft_beam.Context.get_passthrough_keys(), use_tf_compat_v1=True,
        input_tensor_adapter_config=adapter_config,
    )
    run.setup()
    return run


def applied(run: impl._RunMetaGraphDoFn, batches: Iterable[pa.RecordBatch], saved_model_dir: str) -> Iterator[Any]:
    """The outputs of each batch through the graph saved in ``saved_model_dir``."""
    for batch in batches:
        yield from run.process(batch, saved_model_dir=saved_model_dir)


class Checker(nodes.Visitor):
    """A dry run of the analysis graph: :class:`Unsupported` at the first node this module does not run."""

    def visit(self, operation_def: Any, input_values: tuple[Any, ...]) -> tuple[None, ...]:
        check(operation_def)
        return (None,) * operation_def.num_outputs

    def validate_value(self, value: Any) -> None:
        pass


class Evaluator(nodes.Visitor):
    """Runs each node on the lists its inputs evaluated to (see the module's docstring)."""

    def __init__(self, analysis: Analysis) -> None:
        self.analysis = analysis

    def visit(self, operation_def: Any, input_values: tuple[list[Any], ...]) -> tuple[list[Any], ...]:
        try:
            outputs = RUNS[type(operation_def)](operation_def, list(input_values), self.analysis)
        except Exception as err:  # as Beam's visitor says it, with the node's label
            raise RuntimeError(f"Failed to apply: {operation_def.label}") from err
        assert len(outputs) == operation_def.num_outputs, operation_def.label
        return outputs

    def validate_value(self, value: Any) -> None:
        assert isinstance(value, list), value


def check(operation_def: Any) -> None:
    """:class:`Unsupported` unless the node's kind and options are ones :data:`RUNS` runs as Beam would."""
    kind = type(operation_def)
    if kind not in RUNS:
        raise Unsupported(f"tf.Transform node {kind.__name__}")
    if kind is beam_nodes.ExtractInputForSavedModel and not operation_def.dataset_key.is_flattened_dataset_key():
        raise Unsupported(f"analysis of dataset {operation_def.dataset_key}")
    ordering = getattr(operation_def, "vocab_ordering_type", analyzers._VocabOrderingType.FREQUENCY)
    if ordering != analyzers._VocabOrderingType.FREQUENCY:
        raise Unsupported(f"vocabulary ordered by {ordering}")
    if kind is analyzer_nodes.VocabularyPrune and operation_def.key_fn is not None:
        raise Unsupported("vocabulary with a coverage key_fn")
    if kind is analyzer_nodes.VocabularyOrderAndWrite and operation_def.file_format != "text":
        raise Unsupported(f"vocabulary file format {operation_def.file_format}")


# Combines, as Beam's FnApiRunner runs a CombineGlobally on one bundle.


def combine_globally(elements: list[Any], combine_fn: beam.CombineFn, fanout: int | None = None) -> list[Any]:
    """``CombineGlobally(combine_fn)`` (``.with_fanout(fanout)`` when given): one output, its default when
    there are no elements.

    Beam lifts the combine: each stage adds its inputs into one accumulator, compacts it and sends it
    through the coder to a merge and an extract. With a fanout, the bundle's accumulator is extracted as
    it is and merged into a fresh accumulator of a second such combine.
    """
    if not elements:
        return [stage_copy(combine_fn).apply([])]
    fn = stage_copy(combine_fn)
    accumulator = merged(fn, [lifted(fn, fn.create_accumulator(), elements, fn.add_input)])
    if fanout:
        fn = stage_copy(combine_fn)
        accumulator = merged(fn, [lifted(fn, fn.create_accumulator(), [coded(accumulator)],
                                         lambda fresh, other: fn.merge_accumulators([fresh, other]))])
    return [fn.extract_output(accumulator)]


def stage_copy(combine_fn: beam.CombineFn) -> beam.CombineFn:
    """The CombineFn as a stage of Beam's has it: its own copy (Beam unpickles one per stage), set up."""
    fn = copy.deepcopy(combine_fn)
    fn.setup()
    return fn


def lifted(fn: beam.CombineFn, accumulator: Any, elements: list[Any], add: Callable[[Any, Any], Any]) -> Any:
    """Beam's partial combine of one key in one bundle: each element added in order, then the
    accumulator compacted (when ``fn`` overrides compact) and coded for the shuffle."""
    for element in elements:
        accumulator = add(accumulator, element)
    if type(fn).compact is not beam.CombineFn.compact:
        accumulator = fn.compact(accumulator)
    return coded(accumulator)


def merged(fn: beam.CombineFn, accumulators: list[Any]) -> Any:
    """Beam's merge phase of a lifted combine: the shuffled accumulators of a key merged."""
    return fn.merge_accumulators(accumulators)


def coded(value: Any) -> Any:
    """``value`` through a coder, as between Beam's stages (accumulators are pickled)."""
    return pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


# What each kind of node does, after the PTransform TFT's Beam package registers for it.


def create_saved_model(op: Any, inputs: list[list[Any]], analysis: Analysis) -> tuple[list[str]]:
    """The phase's graph as a SavedModel, the analyzer results of earlier phases bound into it as
    constants (``_CreateSavedModelImpl`` with ``_BindTensors``)."""
    planned = analysis.plan
    unbound = common.get_unique_temp_path(planned.base_temp_dir)
    graph = planned.graph
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        initializers = tf.compat.v1.get_collection_ref(tf.compat.v1.GraphKeys.TABLE_INITIALIZERS)
        original = list(initializers)
        initializers[:] = op.table_initializers
        session.run(tf.compat.v1.global_variables_initializer())
        impl.saved_transform_io.write_saved_transform_from_session(
            session, planned.input_signature, op.output_signature, unbound)
        initializers[:] = original
    if not inputs:
        return ([unbound],)
    bindings = [only(values) for values in inputs]
    return ([impl._replace_tensors_with_constant_values(unbound, planned.base_temp_dir, *bindings)],)


def extract_input(op: Any, inputs: list[list[Any]], analysis: Analysis) -> tuple[list[Any]]:
    """The data the analysis reads."""
    return (list(analysis.batches),)


def apply_saved_model(op: Any, inputs: list[list[Any]], analysis: Analysis) -> tuple[list[Any]]:
    """Each batch through the phase's graph."""
    (saved_model_dir,), batches = inputs
    return (list(applied(graph_runner(analysis.plan.adapter_config), batches, saved_model_dir)),)


def extract_from_dict(op: Any, inputs: list[list[Any]], analysis: Analysis) -> tuple[list[Any]]:
    """The named values of each dict (a tuple of them when several are named)."""
    keys = op.keys
    pick = (lambda d: tuple(d[k] for k in keys)) if isinstance(keys, tuple) else (lambda d: d[keys])
    return ([pick(d) for d in only_input(inputs)],)


def packed_accumulate(op: Any, inputs: list[list[Any]], analysis: Analysis) -> tuple[list[Any]]:
    """Several analyzers' accumulators in one combine over the batches, fanned out as TFT asks."""
    fanout = max(analyzer_impls._DEFAULT_COMBINE_GLOBALLY_FANOUT, int(math.ceil(math.sqrt(len(op.combiners)))))
    wrapper = analyzer_impls._PackedCombinerWrapper(op.combiners, is_combining_accumulators=False)
    return (combine_globally(only_input(inputs), wrapper, fanout),)


def packed_merge(op: Any, inputs: list[list[Any]], analysis: Analysis) -> tuple[list[Any]]:
    """Several analyzers' accumulators, keyed by analyzer, merged and extracted in one combine."""
    wrapper = analyzer_impls._PackedCombinerWrapper(op.combiners, is_combining_accumulators=True)
    return (combine_globally(only_input(inputs), wrapper),)


def accumulate(op: Any, inputs: list[list[Any]], analysis: Analysis) -> tuple[list[Any]]:
    """One analyzer's accumulator over the batches."""
    wrapper = analyzer_impls._CombinerWrapper(op.combiner, is_combining_accumulators=False)
    return (combine_globally(only_input(inputs), wrapper, analyzer_impls._DEFAULT_COMBINE_GLOBALLY_FANOUT),)


def merge(op: Any, inputs: list[list[Any]], analysis: Analysis) -> tuple[list[Any]]:
    """One analyzer's accumulators merged, and its outputs extracted."""
    wrapper = analyzer_impls._CombinerWrapper(op.combiner, is_combining_accumulators=True)
    return (combine_globally(only_input(inputs), wrapper),)


def extract_outputs(op: Any, inputs: list[list[Any]], analysis: Analysis) -> tuple[list[Any], ...]:
    """Each combine's outputs, one list per output."""
    split = tuple([] for _ in range(op.num_outputs))
    for outputs in only_input(inputs):
        if len(outputs) != op.num_outputs:
            raise ValueError(f"Analyzer has {op.num_outputs} outputs but its implementation produced "
                             f"{len(outputs)} values")
        for values, output in zip(split, outputs):
            values.append(output)
    return split


def add_key(op: Any, inputs: list[list[Any]], analysis: Analysis) -> tuple[list[Any]]:
    return ([(op.key, value) for value in only_input(inputs)],)


def flatten_lists(op: Any, inputs: list[list[Any]], analysis: Analysis) -> tuple[list[Any]]:
    return ([item for values in only_input(inputs) for item in values],)


def flatten(op: Any, inputs: list[list[Any]], analysis: Analysis) -> tuple[list[Any]]:
    return ([item for values in inputs for item in values],)


def tensor_binding(op: Any, inputs: list[list[Any]], analysis: Analysis) -> tuple[list[Any]]:
    """An analyzer's result as the value of the placeholder it replaces in later graphs."""
    return ([impl._TensorBinding(value, op.tensor_name, op.dtype_enum, op.is_asset_filepath)
             for value in only_input(inputs)],)


def bucket_boundaries(op: Any, inputs: list[list[Any]], analysis: Analysis) -> tuple[list[Any], ...]:
    """Per-key bucket boundaries joined into one list, with each key's scale, shift and bucket count."""
    outputs = ([], [], [], [])
    for matrix in only_input(inputs):
        for values, value in zip(outputs, analyzer_impls._join_boundary_rows(matrix)):
            values.append(value)
    return outputs


def vocabulary_accumulate(op: Any, inputs: list[list[Any]], analysis: Analysis) -> tuple[list[Any]]:
    """``(token, count)`` of each distinct token of the batches."""
    counts = collections.Counter()
    for batch_values in only_input(inputs):
        counts.update(analyzer_impls._flatten_value_to_list(batch_values))
    return (list(counts.items()),)


def vocabulary_merge(op: Any, inputs: list[list[Any]], analysis: Analysis) -> tuple[list[Any]]:
    """``(count, token)`` of each token, its counts summed."""
    totals = collections.defaultdict(int)
    for token, count in only_input(inputs):
        totals[token] += count
    return ([(count, token) for token, count in totals.items()],)


def vocabulary_count(op: Any, inputs: list[list[Any]], analysis: Analysis) -> tuple[list[Any]]:
    """How many tokens (at least one: an empty vocabulary is written with a dummy token)."""
    return ([np.int64(max(len(only_input(inputs)), 1))],)


def vocabulary_prune(op: Any, inputs: list[list[Any]], analysis: Analysis) -> tuple[list[Any]]:
    """The ``(count, token)`` pairs above the thresholds, tokens as bytes, the ``top_k`` largest first."""
    for name in ("top_k", "frequency_threshold", "coverage_top_k", "coverage_frequency_threshold"):
        value = getattr(op, name)
        if value is not None and value < 0:
            raise ValueError(f"{name} for VocabularyImpl should be >= 0 or None, got {value}.")
    counts = only_input(inputs)
    info_threshold = op.informativeness_threshold
    if op.frequency_threshold > 0 or info_threshold > float("-inf"):
        counts = [pair for pair in counts if above_thresholds(pair, op.frequency_threshold, info_threshold)]
    counts = [(value[0] if isinstance(value, tuple) else value, token) for value, token in counts]
    if op.input_dtype != tf.string.name:
        counts = [(count, tf.compat.as_bytes(tf.compat.as_str_any(token))) for count, token in counts]
    if op.top_k is not None:  # Beam's Top.Of: the largest, largest first
        counts = analyzer_impls.maybe_add_empty_vocabulary_dummy(sorted(counts, reverse=True)[:op.top_k],
                                                                 op.input_dtype)
    return (counts,)


def above_thresholds(pair: tuple[Any, Any], frequency_threshold: float, info_threshold: float) -> bool:
    """Whether a ``(count or (informativeness, count), token)`` pair passes both thresholds."""
    value, _ = pair
    informativeness, frequency = value if isinstance(value, tuple) else (float("inf"), value)
    return frequency >= frequency_threshold and informativeness >= info_threshold


def vocabulary_order_and_write(op: Any, inputs: list[list[Any]], analysis: Analysis) -> tuple[list[Any]]:
    """The vocabulary file, ordered (most frequent first, or by a fingerprint), and its path."""
    counts = inputs[0]
    reserved = inputs[1][0] if len(inputs) > 1 else None
    path = os.path.join(analysis.plan.base_temp_dir, op.vocab_filename)
    if op.input_is_sorted and not reserved:
        entries = ([analyzer_impls._count_and_token_to_bytes(count, token) for count, token in counts]
                   if op.store_frequency else [token for _, token in counts])
    else:
        sort_kwargs = ({"key": lambda pair: hashlib.sha1(pair[1]).digest()} if op.fingerprint_shuffle
                       else {"reverse": True})
        order = analyzer_impls._OrderElementsFn(op.store_frequency, sort_kwargs, op.input_dtype)
        entries = list(order.process(None, [counts], **({"reserved_tokens": reserved} if reserved else {})))
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "wb") as f:  # Beam's WriteToText: each entry and a newline
        f.write(b"".join(entry + b"\n" for entry in entries))
    return ([np.array(path)],)


def reserved_tokens(op: Any, inputs: list[list[Any]], analysis: Analysis) -> tuple[list[Any]]:
    return ([[tf_utils.fetch_vocabulary_reserved_tokens(analysis.plan.graph, op.name)]],)


def only_input(inputs: list[list[Any]]) -> list[Any]:
    (values,) = inputs
    return values


def only(values: list[Any]) -> Any:
    """The one element of a singleton collection (Beam's AsSingleton)."""
    (value,) = values
    return value


RUNS: dict[type, Run] = {
    beam_nodes.CreateSavedModel: create_saved_model,
    beam_nodes.ExtractInputForSavedModel: extract_input,
    beam_nodes.ApplySavedModel: apply_saved_model,
    beam_nodes.ExtractFromDict: extract_from_dict,
    beam_nodes.CreateTensorBinding: tensor_binding,
    beam_nodes.Flatten: flatten,
    analyzer_nodes.PackedCombineAccumulate: packed_accumulate,
    analyzer_nodes.PackedCombineMerge: packed_merge,
    analyzer_nodes.CacheableCombineAccumulate: accumulate,
    analyzer_nodes.CacheableCombineMerge: merge,
    analyzer_nodes.ExtractCombineMergeOutputs: extract_outputs,
    analyzer_nodes.ExtractPackedCombineMergeOutputs: extract_outputs,
    analyzer_nodes.AddKey: add_key,
    analyzer_nodes.FlattenLists: flatten_lists,
    analyzer_nodes.ScaleAndFlattenPerKeyBucketBouandaries: bucket_boundaries,
    analyzer_nodes.VocabularyAccumulate: vocabulary_accumulate,
    analyzer_nodes.VocabularyMerge: vocabulary_merge,
    analyzer_nodes.VocabularyCount: vocabulary_count,
    analyzer_nodes.VocabularyPrune: vocabulary_prune,
    analyzer_nodes.VocabularyOrderAndWrite: vocabulary_order_and_write,
    analyzer_nodes.ExtractVocabularyReservedTokens: reserved_tokens,
}
