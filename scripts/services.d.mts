export declare const REDIS_URL: string;
export declare function redisAnswers(url?: string): Promise<boolean>;
export declare function postgresUrl(): Promise<string | undefined>;
