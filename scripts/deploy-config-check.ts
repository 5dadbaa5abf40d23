// The configuration half of `npm run deploy:dry-run`: a config that would deploy a development
// worker (the local-development marker in its vars, src/core/deploy-mode.ts) or one that does not
// make wrangler refuse a deploy without the worker's secrets is refused before anything is built.
import { unstable_readConfig } from 'wrangler';
import {
  CENTRAL_REQUIRED_SECRETS,
  developmentVarsProblem,
  EDGE_REQUIRED_SECRETS,
} from '../src/core/deploy-mode.js';
import { REGIONS } from './regions.js';

export interface DeployTarget {
  label: string;
  configPath: string;
  env?: string;
  /** The secrets the worker does not serve without (src/core/deploy-mode.ts). */
  requiredSecrets: readonly string[];
}

export function deployTargets(
  centralConfig = 'wrangler.toml',
  edgeConfig = 'wrangler.edge.toml',
): DeployTarget[] {
  return [
    { label: 'central', configPath: centralConfig, requiredSecrets: CENTRAL_REQUIRED_SECRETS },
    ...REGIONS.map((region) => ({
      label: `edge ${region}`,
      configPath: edgeConfig,
      env: region,
      requiredSecrets: EDGE_REQUIRED_SECRETS,
    })),
  ];
}

/** Why this target must not be deployed as configured (empty: it may). */
export function deployConfigProblems(target: DeployTarget): string[] {
  const config = unstable_readConfig({ config: target.configPath, env: target.env }, { hideWarnings: true });
  const problems: string[] = [];
  const vars = developmentVarsProblem(config.vars as Record<string, unknown>);
  if (vars) problems.push(vars);
  const declared = new Set(config.secrets?.required ?? []);
  const undeclared = target.requiredSecrets.filter((name) => !declared.has(name));
  if (undeclared.length)
    problems.push(
      `secrets.required lacks ${undeclared.join(', ')} (wrangler deploy would not refuse a worker without them)`,
    );
  return problems.map((p) => `${target.label} (${target.configPath}): ${p}`);
}
