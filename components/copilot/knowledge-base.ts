import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface KnowledgeBaseArgs {
  /**
   * Prefix of every AWS name: lowercase letters, digits, hyphens; at most 29 characters, as S3
   * caps the source bucket's name prefix (`<prefix>-kb-src-`) at 37.
   */
  namePrefix: string;
  /** AWS region of the provider the resources are created with; picks the embedding model. */
  region: string;
  /** Whether destroying the buckets also deletes what is in them; the caller owns this decision. */
  forceDestroy: boolean;
}

/** Titan Text Embeddings V2: 1024-dimensional float32 vectors. */
export const EMBEDDING_MODEL_ID = "amazon.titan-embed-text-v2:0";
export const EMBEDDING_DIMENSIONS = 1024;

/** ARN of Titan Text Embeddings V2 in `region` (foundation models have no account). */
export function titanEmbeddingArn(region: string): string {
  return `arn:aws:bedrock:${region}::foundation-model/${EMBEDDING_MODEL_ID}`;
}

/**
 * A Bedrock knowledge base over an S3 bucket of documents, stored in an S3 Vectors index and
 * embedded with Titan Text Embeddings V2.
 */
export class KnowledgeBase extends pulumi.ComponentResource {
  readonly knowledgeBaseId: pulumi.Output<string>;
  /** The data source's own id (its resource `id` is "<data source id>,<knowledge base id>"). */
  readonly dataSourceId: pulumi.Output<string>;
  /** Source bucket documents are uploaded to. */
  readonly bucketName: pulumi.Output<string>;
  readonly bucketArn: pulumi.Output<string>;
  readonly indexArn: pulumi.Output<string>;
  /** Service role the knowledge base runs as. */
  readonly roleArn: pulumi.Output<string>;

  constructor(name: string, args: KnowledgeBaseArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("envctl:copilot:KnowledgeBase", name, {}, opts);
    const prefix = args.namePrefix;
    const modelArn = titanEmbeddingArn(args.region);

    // Source documents: versioned and encrypted; EventBridge sees every change so ingestion can
    // be triggered from it.
    const bucket = new aws.s3.Bucket(
      `${name}-source`,
      { bucketPrefix: `${prefix}-kb-src-`, forceDestroy: args.forceDestroy },
      { parent: this },
    );
    new aws.s3.BucketVersioning(
      `${name}-source-versioning`,
      { bucket: bucket.bucket, versioningConfiguration: { status: "Enabled" } },
      { parent: this },
    );
    new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}-source-sse`,
      {
        bucket: bucket.bucket,
        rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }],
      },
      { parent: this },
    );
    new aws.s3.BucketNotification(
      `${name}-source-events`,
      { bucket: bucket.bucket, eventbridge: true },
      { parent: this },
    );

    const vectors = new aws.s3.VectorsVectorBucket(
      `${name}-vectors`,
      { vectorBucketName: `${prefix}-kb-vectors`, forceDestroy: args.forceDestroy },
      { parent: this },
    );
    const index = new aws.s3.VectorsIndex(
      `${name}-index`,
      {
        vectorBucketName: vectors.vectorBucketName,
        indexName: `${prefix}-kb-index`,
        dataType: "float32",
        dimension: EMBEDDING_DIMENSIONS,
        distanceMetric: "cosine",
        // S3 Vectors caps filterable metadata at 2 KB per vector; Bedrock's chunk text and its
        // metadata blob exceed that, so they must be stored as non-filterable.
        metadataConfiguration: {
          nonFilterableMetadataKeys: ["AMAZON_BEDROCK_TEXT", "AMAZON_BEDROCK_METADATA"],
        },
      },
      { parent: this },
    );

    const role = new aws.iam.Role(
      `${name}-role`,
      {
        name: `${prefix}-kb-role`,
        assumeRolePolicy: JSON.stringify({
          Version: "2012-10-17",
          Statement: [
            {
              Effect: "Allow",
              Principal: { Service: "bedrock.amazonaws.com" },
              Action: "sts:AssumeRole",
            },
          ],
        }),
      },
      { parent: this },
    );
    const policy = new aws.iam.RolePolicy(
      `${name}-role-policy`,
      {
        role: role.id,
        policy: pulumi.jsonStringify({
          Version: "2012-10-17",
          Statement: [
            { Effect: "Allow", Action: ["s3:ListBucket"], Resource: [bucket.arn] },
            {
              Effect: "Allow",
              Action: ["s3:GetObject"],
              Resource: [pulumi.interpolate`${bucket.arn}/*`],
            },
            {
              Effect: "Allow",
              Action: [
                "s3vectors:GetIndex",
                "s3vectors:QueryVectors",
                "s3vectors:PutVectors",
                "s3vectors:GetVectors",
                "s3vectors:DeleteVectors",
              ],
              Resource: [index.indexArn],
            },
            { Effect: "Allow", Action: ["bedrock:InvokeModel"], Resource: [modelArn] },
          ],
        }),
      },
      { parent: this },
    );

    const kb = new aws.bedrock.AgentKnowledgeBase(
      `${name}-kb`,
      {
        name: `${prefix}-kb`,
        roleArn: role.arn,
        knowledgeBaseConfiguration: {
          type: "VECTOR",
          vectorKnowledgeBaseConfiguration: {
            embeddingModelArn: modelArn,
            embeddingModelConfiguration: {
              bedrockEmbeddingModelConfiguration: {
                dimensions: EMBEDDING_DIMENSIONS,
                embeddingDataType: "FLOAT32",
              },
            },
          },
        },
        storageConfiguration: {
          type: "S3_VECTORS",
          s3VectorsConfiguration: { indexArn: index.indexArn },
        },
      },
      // Bedrock checks the role's permissions when the knowledge base is created; the role alone
      // (which roleArn already waits for) has none yet.
      { parent: this, dependsOn: [policy] },
    );
    const source = new aws.bedrock.AgentDataSource(
      `${name}-data-source`,
      {
        name: `${prefix}-kb-source`,
        knowledgeBaseId: kb.id,
        dataSourceConfiguration: { type: "S3", s3Configuration: { bucketArn: bucket.arn } },
      },
      { parent: this },
    );

    this.knowledgeBaseId = kb.id;
    this.dataSourceId = source.dataSourceId;
    this.bucketName = bucket.bucket;
    this.bucketArn = bucket.arn;
    this.indexArn = index.indexArn;
    this.roleArn = role.arn;
    this.registerOutputs({
      knowledgeBaseId: this.knowledgeBaseId,
      dataSourceId: this.dataSourceId,
      bucketName: this.bucketName,
      bucketArn: this.bucketArn,
      indexArn: this.indexArn,
      roleArn: this.roleArn,
    });
  }
}
