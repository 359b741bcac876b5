// optim/: SGD (torch.optim.SGD semantics) and learning-rate schedules.
export { SGD } from './sgd';
export type { SGDOptions, ParamGroup, ParamGroupInput, SGDState, SGDStateMeta } from './sgd';
export {
  cifarSchedule,
  cifarMilestones,
  cosineSchedule,
  multiStepSchedule,
  constantSchedule,
  createSchedule,
  learningRate,
} from './schedules';
export type {
  LrSchedule,
  CifarScheduleOptions,
  CosineScheduleOptions,
  ScheduleType,
  ScheduleConfig,
} from './schedules';
export { saveOptimizer, loadOptimizer } from './checkpoint';
