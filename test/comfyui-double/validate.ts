/**
 * Port of ComfyUI 0.33 execution.validate_prompt / validate_inputs, including how Python exceptions surface
 * (KeyError for links to missing nodes, IndexError for bad output slots) so that the 400 bodies match 0.33's
 * answers (fixtures/validation_errors_v0.33.json) field for field; their tracebacks are the recorded ones.
 * Non-object nodes/prompts raise `ServerError` (the handler turns it into aiohttp's plain 500).
 */
import type { InputSpec, NodeClass } from "./nodes.ts";
import { formatValue, getItem, inputInfo, pyKey, tupleIndex, validateNodeInput } from "./validate-py.ts";

export { validateNodeInput };

import { PyError, pyBool, pyEquals, pyFloatValue, pyInt, pyRepr, pyStr, pyTypeName } from "./py.ts";

export class ServerError extends Error {}

export interface ValidationError {
  type: string;
  message: string;
  details: string;
  extra_info: Record<string, unknown>;
}

export interface NodeErrors {
  [nodeId: string]: { errors: ValidationError[]; dependent_outputs: string[]; class_type: unknown };
}

export type ValidationResult =
  | { ok: true; outputs: string[]; nodeErrors: NodeErrors }
  | { ok: false; error: ValidationError; nodeErrors: NodeErrors };

type Validated = Map<string, [boolean, ValidationError[], string]>;

export interface ValidateEnv {
  registry: Map<string, NodeClass>;
}

async function validateInputs(
  env: ValidateEnv,
  prompt: Record<string, unknown>,
  uniqueId: string,
  validated: Validated,
  visiting: string[],
): Promise<[boolean, ValidationError[], string]> {
  const done = validated.get(uniqueId);
  if (done !== undefined) return done;
  if (visiting.includes(uniqueId)) {
    // 0.33's cycle check (0.3.64 recursed until RecursionError)
    const path = [...visiting.slice(visiting.indexOf(uniqueId)), uniqueId];
    const cycleNodes = [...new Set(path)];
    const details = path.map((id) => `${id} (${pyStr((prompt[id] as Record<string, unknown>).class_type)})`);
    for (const id of cycleNodes) {
      validated.set(id, [
        false,
        [
          {
            type: "dependency_cycle",
            message: "Dependency cycle detected",
            details: details.join(" -> "),
            extra_info: { node_id: id, cycle_nodes: cycleNodes },
          },
        ],
        id,
      ]);
    }
    return validated.get(uniqueId) as [boolean, ValidationError[], string];
  }
  {
    const node = pyKey(prompt, uniqueId);
    const inputs = getItem(node, "inputs");
    const classType = getItem(node, "class_type");
    const cls = env.registry.get(String(classType)) as NodeClass;
    const classInputs = cls.inputTypes();
    const inputsObj = (inputs ?? {}) as Record<string, unknown>;
    const required = classInputs.required ?? {};
    const optional = classInputs.optional ?? {};
    const validInputs = [...new Set([...Object.keys(required), ...Object.keys(optional)])];
    const validateArgs = cls.validateInputs?.args ?? [];
    const errors: ValidationError[] = [];
    let valid = true;
    if (typeof inputs !== "object" || inputs === null || Array.isArray(inputs)) {
      if (validInputs.length > 0)
        throw new PyError("TypeError", `argument of type '${pyTypeName(inputs)}' is not iterable`);
    }

    for (const x of validInputs) {
      const category = x in required ? "required" : "optional";
      const [inputType, extraInfo] = inputInfo((required[x] ?? optional[x]) as InputSpec);
      if (!Object.hasOwn(inputsObj, x)) {
        if (category === "required") {
          errors.push({
            type: "required_input_missing",
            message: "Required input is missing",
            details: x,
            extra_info: { input_name: x },
          });
        }
        continue;
      }
      let val = inputsObj[x];
      const info = [inputType, extraInfo];
      if (Array.isArray(val)) {
        if (val.length !== 2) {
          errors.push({
            type: "bad_linked_input",
            message: "Bad linked input, must be a length-2 list of [node_id, slot_index]",
            details: x,
            extra_info: { input_name: x, input_config: info, received_value: val },
          });
          continue;
        }
        const oId = val[0];
        const oNode = pyKey(prompt, oId);
        const oClass = env.registry.get(String(getItem(oNode, "class_type"))) as NodeClass;
        const receivedType = tupleIndex(oClass.returnTypes, val[1]);
        if (!validateArgs.includes("input_types") && !validateNodeInput(receivedType, inputType)) {
          errors.push({
            type: "return_type_mismatch",
            message: "Return type mismatch between linked nodes",
            details: `${x}, received_type(${receivedType}) mismatch input_type(${pyStr(inputType)})`,
            extra_info: { input_name: x, input_config: info, received_type: receivedType, linked_node: val },
          });
          continue;
        }
        try {
          visiting.push(uniqueId);
          const r = await validateInputs(env, prompt, oId as string, validated, visiting).finally(() => visiting.pop());
          if (r[0] === false) {
            valid = false;
          }
        } catch (ex) {
          if (!(ex instanceof PyError)) throw ex;
          valid = false;
          validated.set(oId as string, [
            false,
            [
              {
                type: "exception_during_inner_validation",
                message: "Exception when validating inner node",
                details: ex.message,
                extra_info: {
                  input_name: x,
                  input_config: info,
                  exception_message: ex.message,
                  exception_type: ex.pyType,
                  traceback: ex.traceback ?? [],
                  linked_node: val,
                },
              },
            ],
            oId as string,
          ]);
        }
        continue;
      }

      try {
        if (val !== null && typeof val === "object" && "__value__" in (val as object)) {
          val = (val as Record<string, unknown>).__value__;
          inputsObj[x] = val;
        }
        if (inputType === "INT") val = pyInt(val);
        else if (inputType === "FLOAT") val = pyFloatValue(val);
        else if (inputType === "STRING") val = pyStr(val);
        else if (inputType === "BOOLEAN") val = pyBool(val);
        if (inputType === "INT" || inputType === "FLOAT" || inputType === "STRING" || inputType === "BOOLEAN") {
          inputsObj[x] = val;
        }
      } catch (ex) {
        if (!(ex instanceof PyError)) throw ex;
        errors.push({
          type: "invalid_input_type",
          message: `Failed to convert an input value to a ${pyStr(inputType)} value`,
          details: `${x}, ${pyStr(val)}, ${ex.message}`,
          extra_info: { input_name: x, input_config: info, received_value: val, exception_message: ex.message },
        });
        continue;
      }

      if (!validateArgs.includes(x)) {
        const min = extraInfo.min;
        const max = extraInfo.max;
        if (typeof min === "number" && typeof val === "number" && val < min) {
          errors.push({
            type: "value_smaller_than_min",
            message: `Value ${formatValue(inputType, val)} smaller than min of ${formatValue(inputType, min)}`,
            details: x,
            extra_info: { input_name: x, input_config: info, received_value: val },
          });
          continue;
        }
        if (typeof max === "number" && typeof val === "number" && val > max) {
          errors.push({
            type: "value_bigger_than_max",
            message: `Value ${formatValue(inputType, val)} bigger than max of ${formatValue(inputType, max)}`,
            details: x,
            extra_info: { input_name: x, input_config: info, received_value: val },
          });
          continue;
        }
        const combo = Array.isArray(inputType)
          ? inputType
          : inputType === "COMBO" && Array.isArray(extraInfo.options)
            ? (extraInfo.options as unknown[])
            : undefined;
        if (combo !== undefined && !combo.some((o) => pyEquals(o, val))) {
          const big = combo.length > 20;
          errors.push({
            type: "value_not_in_list",
            message: "Value not in list",
            details: `${x}: '${pyStr(val)}' not in ${big ? `(list of length ${combo.length})` : pyRepr(combo)}`,
            extra_info: { input_name: x, input_config: big ? null : info, received_value: val },
          });
        }
      }
    }

    if (cls.validateInputs !== undefined) {
      const filtered: Record<string, unknown> = {};
      for (const a of cls.validateInputs.args) {
        if (Object.hasOwn(inputsObj, a) && !Array.isArray(inputsObj[a])) filtered[a] = inputsObj[a];
      }
      const r = cls.validateInputs.fn(filtered);
      if (r !== true) {
        for (const a of Object.keys(filtered)) {
          errors.push({
            type: "custom_validation_failed",
            message: "Custom validation failed for node",
            details: r === false ? a : `${a} - ${r}`,
            extra_info: { input_name: a },
          });
        }
      }
    }

    // a cycle found below may already have put an error on this node: joined
    const [ok, before] = validated.get(uniqueId) ?? [true, []];
    const known = new Set(before.map((e) => JSON.stringify(e)));
    const ret: [boolean, ValidationError[], string] = [
      ok && valid && errors.length === 0,
      [...before, ...errors.filter((e) => !known.has(JSON.stringify(e)))],
      uniqueId,
    ];
    validated.set(uniqueId, ret);
    return ret;
  }
}

function pyTruthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (isPlainObject(v)) return Object.keys(v).length > 0;
  return Boolean(v);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** execution.validate_prompt */
export async function validatePrompt(
  env: ValidateEnv,
  prompt: unknown,
  partialExecutionTargets: unknown,
): Promise<ValidationResult> {
  if (!isPlainObject(prompt)) {
    // `for x in prompt: prompt[x]` -> TypeError for lists/strings with items, numbers, None
    if ((Array.isArray(prompt) && prompt.length === 0) || prompt === "") {
      return {
        ok: false,
        error: { type: "prompt_no_outputs", message: "Prompt has no outputs", details: "", extra_info: {} },
        nodeErrors: {},
      };
    }
    throw new ServerError("prompt is not a dict");
  }
  const outputs: string[] = [];
  for (const [x, node] of Object.entries(prompt)) {
    const hasClassType =
      typeof node === "string"
        ? node.includes("class_type")
        : Array.isArray(node)
          ? node.includes("class_type")
          : isPlainObject(node)
            ? "class_type" in node
            : undefined;
    if (hasClassType === undefined || !isPlainObject(node)) throw new ServerError("node is not a dict");
    const meta = node._meta ?? {};
    if (!isPlainObject(meta)) throw new ServerError("_meta is not a dict");
    if (!hasClassType) {
      // ComfyUI 0.33 (0.3.64: invalid_prompt "Cannot execute because a node is missing the class_type property.")
      const title = meta.title ?? null;
      return {
        ok: false,
        error: {
          type: "missing_node_type",
          message: `Node '${pyTruthy(title) ? pyStr(title) : `ID #${x}`}' has no class_type. The workflow may be corrupted or a custom node is missing.`,
          details: `Node ID '#${x}'`,
          extra_info: { node_id: x, class_type: null, node_title: title },
        },
        nodeErrors: {},
      };
    }
    const classType = node.class_type;
    if (typeof classType === "object" && classType !== null) throw new ServerError("unhashable class_type");
    const cls = typeof classType === "string" ? env.registry.get(classType) : undefined;
    if (cls === undefined) {
      // ComfyUI 0.33 (0.3.64 answered invalid_prompt "Cannot execute because node X does not exist.")
      const title = "title" in meta ? meta.title : classType;
      return {
        ok: false,
        error: {
          type: "missing_node_type",
          message: `Node '${pyStr(title)}' not found. The custom node may not be installed.`,
          details: `Node ID '#${x}'`,
          extra_info: { node_id: x, class_type: classType, node_title: title },
        },
        nodeErrors: {},
      };
    }
    if (cls.outputNode) {
      const targets = partialExecutionTargets;
      if (targets === undefined || targets === null || (Array.isArray(targets) && targets.some((t) => t === x))) {
        outputs.push(x);
      }
    }
  }
  if (outputs.length === 0) {
    return {
      ok: false,
      error: { type: "prompt_no_outputs", message: "Prompt has no outputs", details: "", extra_info: {} },
      nodeErrors: {},
    };
  }

  const goodOutputs: string[] = [];
  const failures: Array<[string, ValidationError[]]> = [];
  const nodeErrors: NodeErrors = {};
  const validated: Validated = new Map();
  for (const o of outputs) {
    let valid = false;
    let reasons: ValidationError[] = [];
    try {
      const m = await validateInputs(env, prompt, o, validated, []);
      valid = m[0];
      reasons = m[1];
    } catch (ex) {
      if (!(ex instanceof PyError)) throw ex;
      valid = false;
      reasons = [
        {
          type: "exception_during_validation",
          message: "Exception when validating node",
          details: ex.message,
          extra_info: { exception_type: ex.pyType, traceback: ex.traceback ?? [] },
        },
      ];
      validated.set(o, [false, reasons, o]);
    }
    if (valid) {
      goodOutputs.push(o);
      continue;
    }
    failures.push([o, reasons]);
    for (const [nodeId, [ok, nodeReasons]] of validated) {
      if (ok || nodeReasons.length === 0) continue;
      if (nodeErrors[nodeId] === undefined) {
        nodeErrors[nodeId] = {
          errors: nodeReasons,
          dependent_outputs: [],
          class_type: (prompt[nodeId] as Record<string, unknown>).class_type,
        };
      }
      nodeErrors[nodeId].dependent_outputs.push(o);
    }
  }

  if (goodOutputs.length === 0) {
    const details = failures.flatMap(([, errs]) => errs.map((e) => `${e.message}: ${e.details}`)).join("\n");
    return {
      ok: false,
      error: {
        type: "prompt_outputs_failed_validation",
        message: "Prompt outputs failed validation",
        details,
        extra_info: {},
      },
      nodeErrors,
    };
  }
  return { ok: true, outputs: goodOutputs, nodeErrors };
}
