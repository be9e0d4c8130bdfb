import { InMemory } from '../../src/index.js'
import { describeStorageConformance } from './conformance.js'

describeStorageConformance('in-memory', { create: () => new InMemory() })
