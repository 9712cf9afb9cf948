// deploy/kubernetes: both kustomizations rendered (test/packaging/kustomize.ts; compared
// with `kubectl kustomize` where kubectl is installed) and every object validated against
// the Kubernetes API schemas shipped by the npm package kubernetes-models (offline). Then
// what a schema cannot say: probes on /healthz and /readyz, selectors that select, the
// PodDisruptionBudget, the metrics port, the job definitions in the ConfigMap (valid
// Clockwork definitions), the CronJob's job file, and only known CLOCKWORK_* settings.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml, parseAllDocuments } from "yaml";
import { SETTINGS, parseDurationMs } from "../../supervisor/src/config.ts";
import { validateJobDefinition } from "../../extension/src/core/definition.ts";
import { ROOT } from "../e2e/support.ts";
import { forEachContainer, podTemplate, renderKustomization, type K8sObject } from "./kustomize.ts";

const K8S = join(ROOT, "deploy", "kubernetes");
const LAYOUTS = ["sidecar", "deployment"] as const;
const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const KNOWN_ENV = new Set(SETTINGS.flatMap((s) => [s.env, ...s.envAliases]));

/** The kubernetes-models class of an object, by apiVersion and kind. */
async function modelOf(object: K8sObject): Promise<new (data: unknown) => { validate(): void }> {
  const path = object.apiVersion === "v1" ? `v1/${object.kind}` : `${object.apiVersion}/${object.kind}`;
  const module = (await import(`kubernetes-models/${path}`)) as Record<string, new (data: unknown) => { validate(): void }>;
  const model = module[object.kind];
  if (!model) throw new Error(`kubernetes-models has no ${object.apiVersion} ${object.kind}`);
  return model;
}

function byKind(objects: K8sObject[], kind: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind);
}

function matches(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

const kubectl = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" }).status === 0;

for (const layout of LAYOUTS) {
  describe(`deploy/kubernetes/${layout}`, () => {
    const objects = renderKustomization(join(K8S, layout));
    const workloads = objects.filter((o) => podTemplate(o) !== undefined);

    test("every object is valid against the Kubernetes API schemas (kubernetes-models)", async () => {
      assert.ok(objects.length >= 5);
      for (const object of objects) {
        const Model = await modelOf(object);
        assert.doesNotThrow(() => new Model(object).validate(), `${object.kind}/${object.metadata.name}`);
      }
    });

    test("a broken object is caught by the same validation (the check can fail)", async () => {
      const deployment = structuredClone(workloads.find((w) => podTemplate(w)!.spec.containers[0].ports)!);
      (podTemplate(deployment)!.spec.containers[0].ports[0] as Record<string, unknown>).containerPort = "nine-one-eight-seven";
      const Model = await modelOf(deployment);
      assert.throws(() => new Model(deployment).validate(), /containerPort must be integer/);
    });

    test("renders as kubectl kustomize does", { skip: kubectl ? false : "kubectl is not installed here: the renderer alone is used" }, () => {
      const out = spawnSync("kubectl", ["kustomize", join(K8S, layout)], { encoding: "utf8" });
      assert.equal(out.status, 0, out.stderr);
      const theirs = parseAllDocuments(out.stdout).map((d) => d.toJS() as K8sObject);
      const key = (o: K8sObject) => `${o.kind}/${o.metadata.name}`;
      const sorted = (list: K8sObject[]) => [...list].sort((a, b) => key(a).localeCompare(key(b))).map((o) => JSON.parse(JSON.stringify(o)));
      assert.deepEqual(sorted(objects), sorted(theirs));
    });

    test("images are the released version's, and every container has requests and a memory limit", () => {
      for (const workload of workloads) {
        forEachContainer(workload, (c) => {
          assert.match(String(c.image), new RegExp(`^clockwork/(supervisor:${VERSION.replace(/\./g, "\\.")}|postgres:15-${VERSION.replace(/\./g, "\\.")})$`), `${workload.metadata.name}/${c.name}`);
          assert.ok(c.resources?.requests?.cpu && c.resources?.requests?.memory, `${workload.metadata.name}/${c.name} requests`);
          assert.ok(c.resources?.limits?.memory, `${workload.metadata.name}/${c.name} memory limit`);
        });
      }
    });

    test("only settings the supervisor knows, passwords only from secrets", () => {
      for (const workload of workloads) {
        forEachContainer(workload, (c) => {
          for (const env of (c.env ?? []) as Array<{ name: string; value?: string; valueFrom?: unknown }>) {
            if (env.name.startsWith("CLOCKWORK_") || env.name.startsWith("PGAGENT_")) {
              assert.ok(KNOWN_ENV.has(env.name), `${workload.metadata.name}/${c.name}: unknown setting ${env.name}`);
            }
            if (/PASSWORD$/.test(env.name)) assert.ok(env.valueFrom, `${env.name} comes from a secret, not a literal`);
            if (env.name === "CLOCKWORK_SHUTDOWN_GRACE") {
              const grace = (podTemplate(workload)!.spec.terminationGracePeriodSeconds ?? 30) * 1000;
              assert.ok(grace > parseDurationMs(env.value!, "grace"), "Kubernetes waits longer than the supervisor's shutdown grace");
            }
          }
        });
      }
    });

    test("supervisor containers: /healthz liveness, metrics port 9187, non-root and read-only", () => {
      let supervisors = 0;
      for (const workload of workloads) {
        forEachContainer(workload, (c) => {
          if (!(c.args ?? []).includes("supervisor")) return;
          supervisors++;
          assert.equal(c.livenessProbe.httpGet.path, "/healthz");
          const port = (c.ports as Array<{ name: string; containerPort: number }>).find((p) => p.name === c.livenessProbe.httpGet.port);
          assert.equal(port?.containerPort, 9187);
          const security = { ...podTemplate(workload)!.spec.securityContext, ...c.securityContext };
          assert.equal(security.runAsNonRoot, true);
          assert.equal(security.runAsUser, 10001, "the image's clockwork user");
          assert.equal(c.securityContext.readOnlyRootFilesystem, true);
          assert.ok((c.volumeMounts as Array<{ mountPath: string }>).some((m) => m.mountPath === "/tmp"), "a writable /tmp for steps");
        });
      }
      assert.ok(supervisors >= 1);
    });

    test("services and the PodDisruptionBudget select pods that exist, on ports that exist", () => {
      for (const selecting of [...byKind(objects, "Service"), ...byKind(objects, "PodDisruptionBudget")]) {
        const spec = selecting.spec as Record<string, any>;
        if (spec.type === "ExternalName") continue;
        const selector = spec.selector.matchLabels ?? spec.selector;
        const selected = workloads.filter((w) => matches(selector, podTemplate(w)!.metadata?.labels));
        assert.equal(selected.length, 1, `${selecting.kind}/${selecting.metadata.name} selects one workload`);
        for (const port of spec.ports ?? []) {
          const names: string[] = [];
          forEachContainer(selected[0]!, (c) => names.push(...(c.ports ?? []).map((p: { name: string }) => p.name)));
          assert.ok(names.includes(port.targetPort), `${selecting.metadata.name}: target port ${port.targetPort}`);
        }
      }
    });

    test("the job definitions: a ConfigMap of valid Clockwork definitions, applied by a Job, one run by the CronJob", () => {
      const [configMap] = byKind(objects, "ConfigMap").filter((c) => c.metadata.name === "clockwork-jobs");
      const data = configMap!.data as Record<string, string>;
      assert.deepEqual(Object.keys(data).sort(), readdirSync(join(K8S, "base", "jobs")).sort(), "every file of base/jobs");
      for (const [file, text] of Object.entries(data)) {
        // Applied by a role allowed shell steps (the heartbeat is one), as docs/deploying.md says.
        const result = validateJobDefinition(parseYaml(text), { allowShellSteps: true });
        assert.ok(result.ok, `${file}: ${JSON.stringify(!result.ok && result.errors)}`);
      }
      const [apply] = byKind(objects, "Job");
      forEachContainer(apply!, (c) => assert.deepEqual(c.args.slice(0, 1), ["apply"]));
      const [cron] = byKind(objects, "CronJob");
      forEachContainer(cron!, (c) => {
        assert.equal(c.args[0], "run");
        assert.ok(Object.hasOwn(data, c.args[1].replace(/^\/jobs\//, "")), `${c.args[1]} is in the ConfigMap`);
      });
      assert.equal((cron!.spec as Record<string, unknown>).concurrencyPolicy, "Forbid", "one run at a time");
      for (const workload of [apply!, cron!]) {
        const volumes = podTemplate(workload)!.spec.volumes as Array<{ configMap?: { name: string } }>;
        assert.ok(volumes.some((v) => v.configMap?.name === "clockwork-jobs"));
      }
    });
  });
}

describe("deploy/kubernetes/deployment: several replicas", () => {
  const objects = renderKustomization(join(K8S, "deployment"));
  test("readiness on /readyz, replicas ≥ 2, a PDB that keeps a majority, spread over nodes", () => {
    const [deployment] = byKind(objects, "Deployment");
    const spec = deployment!.spec as Record<string, any>;
    assert.ok(spec.replicas >= 2);
    const container = podTemplate(deployment!)!.spec.containers[0];
    assert.equal(container.readinessProbe.httpGet.path, "/readyz");
    const [pdb] = byKind(objects, "PodDisruptionBudget");
    const minAvailable = (pdb!.spec as Record<string, number>).minAvailable!;
    assert.ok(minAvailable >= 1 && minAvailable < spec.replicas, "drains can proceed, and never take every supervisor");
    assert.ok(podTemplate(deployment!)!.spec.affinity.podAntiAffinity, "replicas spread over nodes");
  });
});
