// Types of /ui/vendor/preact.js, which the service serves from the installed preact package.
export * from 'preact';
