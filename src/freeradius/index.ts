/**
 * Running FreeRADIUS with freeradius/ (or another raddb directory): what the rest of Lango
 * imports. options.ts validates, runtime-dir.ts writes the instance's directory, process.ts
 * launches and stops it.
 */
export {
  FreeRadiusConfigError,
  FreeRadiusError,
  FreeRadiusNotInstalledError,
  FreeRadiusOptionsError,
  FreeRadiusStartError,
} from './errors';
export { resolveFreeRadiusSourceDir, validateClientNetwork, type StartFreeRadiusOptions } from './options';
export { renderClientsConf } from './runtime-dir';
export {
  checkFreeRadiusConfig,
  launchFreeRadius,
  startFreeRadius,
  type FreeRadiusHandle,
  type FreeRadiusProcess,
} from './process';
