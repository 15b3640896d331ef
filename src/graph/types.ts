import type { FeatureName, LayerKindName } from '../dsl/types.ts';

/** Kinds of bake target, one per box of the DESIGN graph. */
export type TargetKind = 'base-common' | 'devel' | 'torch' | 'base' | 'sage' | 'flash' | 'llama' | 'node' | 'template';

/**
 * A named context: another target, or a repo-relative local directory
 * (scripts/, a template's workflows/) whose files the reading layer lists
 * in its `inputs`.
 */
export type ContextSource = { readonly target: string } | { readonly local: string };

/** What a Dockerfile's FROM names: an image, or a named context. */
export type FromSource = { readonly image: string } | { readonly context: string };

/**
 * Stage of a template Dockerfile a layer belongs to: the image's own layers;
 * the checks, run in a stage FROM the image so whatever they write stays out
 * of it; and the final stage, FROM the image plus the checks' report (which
 * makes BuildKit run the checks before it produces the image).
 */
export type LayerStage = 'image' | 'checks' | 'final';

/**
 * One Dockerfile instruction that BuildKit caches as one step.
 * `params` is the data its handlebars partial renders; the content key is
 * derived from kind + params + inputs + the key of the layer before it.
 */
export interface Layer {
  /** Unique within its target, e.g. `node-clone:ComfyUI-KJNodes`. */
  readonly id: string;
  readonly kind: LayerKindName;
  readonly stage: LayerStage;
  readonly params: Readonly<Record<string, unknown>>;
  /** Ids of layers (same target) that must come before this one. */
  readonly after: readonly string[];
  /** Content digests of files the step copies (COPY sources), sorted. */
  readonly inputs: readonly string[];
  /** Named contexts the step reads (COPY --from / RUN --mount from). */
  readonly uses: readonly string[];
  /** Minutes on the reference builder. */
  readonly cost: number;
  /** MB the layer adds on disk, and MB a pod pulls for it (size model, src/graph/layer-kinds.ts). */
  readonly diskMB: number;
  readonly pullMB: number;
  /** Probability that a change touches this layer's own inputs. */
  readonly volatility: number;
  /** Content key: equal keys mean BuildKit reuses the step. */
  readonly key: string;
}

export interface Target {
  readonly name: string;
  readonly kind: TargetKind;
  readonly gpu?: string;
  readonly template?: string;
  readonly from: FromSource;
  readonly contexts: Readonly<Record<string, ContextSource>>;
  /** In Dockerfile order. */
  readonly layers: readonly Layer[];
  /** ENV lines before the first layer (they feed every RUN's cache key). */
  readonly headerEnv: Readonly<Record<string, string>>;
  /** ENV lines after the last layer (metadata only; never invalidate a step). */
  readonly env: Readonly<Record<string, string>>;
  readonly expose: readonly string[];
  readonly entrypoint?: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  /** Image name (without registry) and tag suffix (before -${TAG}); none for node checkouts. */
  readonly image: { readonly repository: string; readonly tag: string } | null;
  /** Local directory this target's Dockerfile copies from (its bake context). @default "bake" */
  readonly context: string;
  /** Repo-relative path of the Dockerfile (under bake/). */
  readonly dockerfile: string;
  /**
   * Set on a GPU variant whose files equal another variant's of the same
   * template (same torch, no GPU-specific kernel): its Dockerfile is FROM that
   * target plus its own ENV, and `layers` is empty. Two identical builds that
   * COPY the same local directory in one bake re-run that COPY on every
   * rebuild (buildx 0.13, test/fixtures/engine-smoke/shared-context); one
   * build and a metadata-only variant cache.
   */
  readonly variantOf?: string;
  /** Key of the image's filesystem (key of its last layer). */
  readonly key: string;
  /** Key of the whole image: filesystem plus config (env, ports, labels, entrypoint). */
  readonly imageKey: string;
}

export interface Group {
  readonly name: string;
  readonly targets: readonly string[];
}

/** Per-template data files written next to the Dockerfiles (manifests baked into the image). */
export interface TemplateFiles {
  readonly template: string;
  readonly models: readonly ManifestModel[];
  readonly nodes: readonly { readonly name: string; readonly repo: string; readonly commit: string }[];
}

/** One entry of models.json (format shared with scripts/fetch_models.py). */
export interface ManifestModel {
  readonly id: string;
  readonly source: 'hf' | 'civitai' | 'url';
  readonly url?: string;
  readonly versionId?: number;
  readonly into: string;
  readonly file: string | null;
  readonly sha256: string | null;
  readonly bytes: number | null;
  readonly auth: 'HF_TOKEN' | 'CIVITAI_TOKEN' | null;
}

/** The resolved build graph. Emitters render it; they never read definitions. */
export interface BuildGraph {
  /** Sorted by name. */
  readonly targets: readonly Target[];
  /** default first, then templates, then GPUs. */
  readonly groups: readonly Group[];
  readonly templateFiles: readonly TemplateFiles[];
  /** Features each template enables per GPU (for labels, plan and CI). */
  readonly features: Readonly<Record<string, readonly FeatureName[]>>;
}
