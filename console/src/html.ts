// htm over preact's h: templates become vnodes, so every interpolated value is a text node or
// an attribute value, escaped by the DOM (nothing here ever sets innerHTML).
import { h } from './vendor/preact.js';
import htm from './vendor/htm.js';

export const html = htm.bind(h);
