// Types of /ui/vendor/htm.js, which the service serves from the installed htm package.
import htm from 'htm';
export default htm;
