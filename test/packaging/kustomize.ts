// A small kustomize for the subset deploy/kubernetes uses, so that tests can render the
// kustomizations offline without the kustomize binary: resources (files and directories
// of other kustomizations), configMapGenerator with files and literals (without the name
// hash: generatorOptions.disableNameSuffixHash must be set), labels (metadata only, as
// kustomize's `labels` without includeSelectors/includeTemplates), images (newName,
// newTag, digest) and namespace. Any other field is an error, so the renderer never
// quietly ignores something kustomize would do. Where kubectl is installed, the tests
// compare this renderer's output with `kubectl kustomize`.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { parseAllDocuments } from "yaml";

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
};

const SUPPORTED = new Set(["apiVersion", "kind", "resources", "configMapGenerator", "generatorOptions", "labels", "images", "namespace"]);

function readYamlDocuments(path: string): unknown[] {
  return parseAllDocuments(readFileSync(path, "utf8")).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0]!.message}`);
    return doc.toJS();
  }).filter((d) => d !== null && d !== undefined);
}

function kustomizationFile(dir: string): string {
  for (const name of ["kustomization.yaml", "kustomization.yml", "Kustomization"]) {
    try {
      if (statSync(join(dir, name)).isFile()) return join(dir, name);
    } catch {
      // next name
    }
  }
  throw new Error(`${dir}: no kustomization.yaml`);
}

/** Renders the kustomization in `dir` into its list of objects. */
export function renderKustomization(dir: string): K8sObject[] {
  const file = kustomizationFile(dir);
  const k = readYamlDocuments(file)[0] as Record<string, any>;
  for (const key of Object.keys(k)) {
    if (!SUPPORTED.has(key)) throw new Error(`${file}: "${key}" is not supported by this renderer (test/packaging/kustomize.ts)`);
  }
  const objects: K8sObject[] = [];
  for (const resource of (k.resources ?? []) as string[]) {
    const path = join(dir, resource);
    if (statSync(path).isDirectory()) objects.push(...renderKustomization(path));
    else objects.push(...(readYamlDocuments(path) as K8sObject[]));
  }
  if (k.configMapGenerator) {
    if (k.generatorOptions?.disableNameSuffixHash !== true) {
      throw new Error(`${file}: generated names with a hash suffix are not supported by this renderer; set generatorOptions.disableNameSuffixHash`);
    }
    for (const generator of k.configMapGenerator as Array<Record<string, any>>) {
      const data: Record<string, string> = {};
      for (const entry of (generator.files ?? []) as string[]) {
        const [key, path] = entry.includes("=") ? entry.split("=", 2) as [string, string] : [basename(entry), entry];
        data[key] = readFileSync(join(dir, path), "utf8");
      }
      for (const literal of (generator.literals ?? []) as string[]) {
        const eq = literal.indexOf("=");
        data[literal.slice(0, eq)] = literal.slice(eq + 1);
      }
      for (const key of Object.keys(generator)) {
        if (!["name", "files", "literals"].includes(key)) throw new Error(`${file}: configMapGenerator.${key} is not supported by this renderer`);
      }
      objects.push({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: generator.name }, data });
    }
  }
  for (const label of (k.labels ?? []) as Array<Record<string, any>>) {
    if (label.includeSelectors || label.includeTemplates) throw new Error(`${file}: labels with includeSelectors/includeTemplates are not supported by this renderer`);
    for (const object of objects) object.metadata.labels = { ...object.metadata.labels, ...label.pairs };
  }
  for (const image of (k.images ?? []) as Array<Record<string, string>>) {
    for (const object of objects) forEachContainer(object, (container) => {
      const current = String(container.image);
      const name = current.replace(/@.*$/, "").replace(/:[^/:]*$/, "");
      if (name !== image.name) return;
      let next = image.newName ?? name;
      if (image.digest) next += `@${image.digest}`;
      else if (image.newTag) next += `:${image.newTag}`;
      else if (current !== name) next += current.slice(name.length);
      container.image = next;
    });
  }
  if (k.namespace) for (const object of objects) object.metadata.namespace = k.namespace;
  return objects;
}

/** Calls `fn` on every container and init container of a workload's pod template(s). */
export function forEachContainer(object: K8sObject, fn: (container: Record<string, any>) => void): void {
  const podSpecs: Array<Record<string, any>> = [];
  const spec = object.spec as Record<string, any> | undefined;
  if (!spec) return;
  if (object.kind === "Pod") podSpecs.push(spec);
  if (spec.template?.spec) podSpecs.push(spec.template.spec);
  if (spec.jobTemplate?.spec?.template?.spec) podSpecs.push(spec.jobTemplate.spec.template.spec);
  for (const pod of podSpecs) for (const c of [...(pod.initContainers ?? []), ...(pod.containers ?? [])]) fn(c);
}

/** The pod template of a workload, or undefined. */
export function podTemplate(object: K8sObject): { metadata?: { labels?: Record<string, string> }; spec: Record<string, any> } | undefined {
  const spec = object.spec as Record<string, any> | undefined;
  return spec?.template ?? spec?.jobTemplate?.spec?.template;
}

export function listDirectories(dir: string): string[] {
  return readdirSync(dir).filter((d) => statSync(join(dir, d)).isDirectory());
}
